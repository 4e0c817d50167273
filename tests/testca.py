"""
A certificate authority made in the test, for federation tests: a root,
and leaf certificates for test domains naming them as DNS-ID, XmppAddr or
SRV-ID, written as PEM files.
"""

import datetime
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

XMPP_ADDR = x509.ObjectIdentifier("1.3.6.1.5.5.7.8.5")
DNS_SRV = x509.ObjectIdentifier("1.3.6.1.5.5.7.8.7")


def derString(tag, text):
    data = text.encode("utf-8")
    assert len(data) < 0x80
    return bytes([tag, len(data)]) + data


def xmppAddr(domain):
    """
    An id-on-xmppAddr otherName (a UTF8String).
    """
    return x509.OtherName(XMPP_ADDR, derString(0x0C, domain))


def srvName(name):
    """
    An id-on-dnsSRV otherName (an IA5String), e.g. C{_xmpp-server.a.test}.
    """
    return x509.OtherName(DNS_SRV, derString(0x16, name))


def _name(text):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


class CertificateAuthority:
    """
    A root CA with an EC key.
    """

    def __init__(self, name="jabberd test CA"):
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        self.name = _name(name)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(self.name).issuer_name(self.name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                           critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(
                self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256()))

    def issue(self, names, commonName=None, expired=False):
        """
        A leaf certificate and its key for the subjectAltNames C{names}
        (C{str} for dNSNames, or C{x509.GeneralName}s).

        @return: C{(certificate, key)}
        """
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        if expired:
            now -= datetime.timedelta(days=60)
        general = [x509.DNSName(n) if isinstance(n, str) else n
                   for n in names]
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(commonName or "leaf"))
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=7))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                           critical=True)
            .add_extension(x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH,
                 ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                self.key.public_key()), critical=False))
        if general:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(general), critical=False)
        return builder.sign(self.key, hashes.SHA256()), key

    def writeCA(self, directory):
        path = os.path.join(str(directory), "ca.pem")
        with open(path, "wb") as f:
            f.write(self.certificate.public_bytes(serialization.Encoding.PEM))
        return path

    def writeDomain(self, directory, domain, names=None):
        """
        Issue a certificate for C{domain} (its dNSName and XmppAddr unless
        C{names} says otherwise) and write C{<domain>.crt} and
        C{<domain>.key}; the certificate file holds the chain.

        @return: C{(certPath, keyPath)}
        """
        if names is None:
            names = [domain, xmppAddr(domain)]
        certificate, key = self.issue(names, commonName=domain)
        certPath = os.path.join(str(directory), domain + ".crt")
        keyPath = os.path.join(str(directory), domain + ".key")
        with open(certPath, "wb") as f:
            f.write(certificate.public_bytes(serialization.Encoding.PEM))
        with open(keyPath, "wb") as f:
            f.write(key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption()))
        os.chmod(keyPath, 0o644)
        return certPath, keyPath
