"""
Stream features a client stream offers (RFC 6120 section 4.3.2), and the
stream's channel binding for SCRAM-PLUS.
"""

from functools import lru_cache

from twisted.words.xish import domish
from zope.interface import implementer

from jabberd.context import POSTAUTH, PREAUTH
from jabberd.sasl import IChannelBinding
from jabberd.tls import channelBindingData, supportedBindingTypes
from jabberd.xml import NS_CLIENT, serialize

NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"
NS_SESSION = "urn:ietf:params:xml:ns:xmpp-session"
NS_SASL_CB = "urn:xmpp:sasl-cb:0"


def clientFeaturesText(stream, sasl, requireTLS):
    """
    The C{<stream:features/>} a client stream offers now, as text.

    What the core offers depends only on the stream's stage, its TLS state
    and the host's settings, so its text is built once per combination
    (L{_coreFeaturesText}); only the plugins' features are asked for and
    serialised per stream, since they may depend on the stream.

    @param sasl: the stream's L{SASLServer} before authentication, or
        C{None} where authentication must wait for TLS or is done.
    """
    if stream.user is not None:
        core = _coreFeaturesText(True, stream.encrypted, requireTLS, None, ())
        plugins = _pluginFeaturesText(stream, POSTAUTH)
    elif sasl is not None:
        core = _coreFeaturesText(False, stream.encrypted, requireTLS,
                                 tuple(sasl.availableMechanisms()),
                                 sasl.channelBindingTypes())
        plugins = _pluginFeaturesText(stream, PREAUTH)
    else:
        # Only STARTTLS until TLS is on: plugins offer nothing yet.
        core = _coreFeaturesText(False, stream.encrypted, requireTLS, None, ())
        plugins = ""
    return "<stream:features>" + core + plugins + "</stream:features>"


@lru_cache(maxsize=64)
def _coreFeaturesText(bound, encrypted, requireTLS, mechanisms, bindings):
    """
    The core's part of the features, serialised: STARTTLS until TLS is on
    (section 5.4.1), then the SASL mechanisms (section 6.4.1) and XEP-0440
    channel binding types; after authentication, resource binding.
    """
    elements = []
    if not encrypted:
        elements.append(tlsFeatures(requireTLS))
    if bound:
        elements.extend(boundFeatures())
    elif mechanisms is not None:
        elements.extend(authFeatures(mechanisms, bindings))
    return "".join(serialize(element, NS_CLIENT) for element in elements)


def tlsFeatures(required):
    """
    C{<starttls/>}, with C{<required/>} when the host insists on TLS
    (RFC 6120 section 5.4.1).
    """
    starttls = domish.Element((NS_TLS, "starttls"))
    if required:
        starttls.addElement("required")
    return starttls


def authFeatures(mechanisms, bindings):
    """
    The SASL mechanisms (section 6.4.1) and the XEP-0440 channel binding
    types, if there are any.
    """
    element = domish.Element((NS_SASL, "mechanisms"))
    for name in mechanisms:
        element.addElement("mechanism", content=name)
    features = [element]
    if bindings:
        features.append(channelBindingFeature(bindings))
    return features


def channelBindingFeature(types):
    """
    XEP-0440: the channel binding types a client may use with C{-PLUS}.
    """
    feature = domish.Element((NS_SASL_CB, "sasl-channel-binding"))
    for cbType in types:
        feature.addElement("channel-binding")["type"] = cbType
    return feature


def boundFeatures():
    """
    Resource binding (section 7.4) and the legacy session feature marked
    optional (RFC 3921 section 3 survives only as a no-op).
    """
    bind = domish.Element((NS_BIND, "bind"))
    session = domish.Element((NS_SESSION, "session"))
    session.addElement("optional")
    return [bind, session]


def _pluginFeaturesText(stream, stage):
    """
    What the host's plugins offer C{stream} at C{stage}
    (L{HostContext.addStreamFeature}), serialised.
    """
    elements = (feature(stream) for feature in stream.host.streamFeatures[stage])
    return "".join(serialize(element, NS_CLIENT)
                   for element in elements if element is not None)


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
