"""
Stream features a client stream offers (RFC 6120 section 4.3.2), and the
stream's channel binding for SCRAM-PLUS.
"""

from twisted.words.xish import domish
from zope.interface import implementer

from jabberd.sasl import IChannelBinding
from jabberd.tls import channelBindingData, supportedBindingTypes

NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"
NS_SESSION = "urn:ietf:params:xml:ns:xmpp-session"
NS_SASL_CB = "urn:xmpp:sasl-cb:0"


def tlsFeatures(required):
    """
    C{<starttls/>}, with C{<required/>} when the host insists on TLS
    (RFC 6120 section 5.4.1).
    """
    starttls = domish.Element((NS_TLS, "starttls"))
    if required:
        starttls.addElement("required")
    return starttls


def authFeatures(stream, sasl, stage):
    """
    The SASL mechanisms (section 6.4.1) and any plugin features offered
    before authentication (e.g. XEP-0077 registration).
    """
    mechanisms = domish.Element((NS_SASL, "mechanisms"))
    for name in sasl.availableMechanisms():
        mechanisms.addElement("mechanism", content=name)
    features = [mechanisms]
    bindings = sasl.channelBindingTypes()
    if bindings:
        features.append(channelBindingFeature(bindings))
    return features + _pluginFeatures(stream, stage)


def channelBindingFeature(types):
    """
    XEP-0440: the channel binding types a client may use with C{-PLUS}.
    """
    feature = domish.Element((NS_SASL_CB, "sasl-channel-binding"))
    for cbType in types:
        feature.addElement("channel-binding")["type"] = cbType
    return feature


def boundFeatures(stream, stage):
    """
    Resource binding (section 7.4), the legacy session feature marked
    optional (RFC 3921 section 3 survives only as a no-op), and plugin
    features for authenticated streams.
    """
    bind = domish.Element((NS_BIND, "bind"))
    session = domish.Element((NS_SESSION, "session"))
    session.addElement("optional")
    return [bind, session] + _pluginFeatures(stream, stage)


def _pluginFeatures(stream, stage):
    features = []
    for feature in stream.host.streamFeatures[stage]:
        element = feature(stream)
        if element is not None:
            features.append(element)
    return features


@implementer(IChannelBinding)
class StreamChannelBinding:
    """
    The TLS channel bindings of one client stream.
    """

    def __init__(self, stream):
        self.stream = stream

    def bindingTypes(self):
        if not self.stream.encrypted:
            return ()
        return supportedBindingTypes(self.stream.transport)

    def bindingData(self, cbType):
        return channelBindingData(self.stream.transport, cbType,
                                  self.stream.server.tls)
