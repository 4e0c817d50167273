"""
Contact Addresses for XMPP Services (XEP-0157), from the configuration.

The operator lists URIs (C{mailto:}, C{xmpp:}, C{https:}, ...) per role;
they are published as an XEP-0128 extended information form, with
C{FORM_TYPE} C{http://jabber.org/network/serverinfo}, in the domain's
disco#info result (XEP-0157 section 3), where the disco plugin puts every
form plugins declare.  Roles without addresses are left out.
"""

from urllib.parse import urlsplit

from twisted.words.xish import domish

from jabberd.plugin import PluginConfigError, PluginFactory, parseOptions

NS_DATA = "jabber:x:data"
FORM_TYPE = "http://jabber.org/network/serverinfo"

#: The roles of XEP-0157 section 5, each published as C{<role>-addresses}.
ROLES = ("abuse", "admin", "feedback", "sales", "security", "support")


def serverInfoForm(addresses):
    """
    The XEP-0157 form for C{addresses} (role to list of URIs).
    """
    form = domish.Element((NS_DATA, "x"))
    form["type"] = "result"
    _addField(form, "FORM_TYPE", [FORM_TYPE], "hidden")
    for role in ROLES:
        if addresses.get(role):
            _addField(form, role + "-addresses", addresses[role],
                      "list-multi")
    return form


def _addField(form, var, values, type):
    field = form.addElement("field")
    field["var"] = var
    field["type"] = type
    for value in values:
        field.addElement("value", content=value)


class ContactInfo:
    """
    Declares the domain's contact addresses form.
    """

    def __init__(self, context):
        if any(context.config.values()):
            context.declareInfoForm(serverInfoForm(context.config))


def checkURI(role, value):
    """
    @raise PluginConfigError: C{value} is not an absolute URI.
    """
    if not isinstance(value, str) or not urlsplit(value).scheme:
        raise PluginConfigError(role, "expected a list of URIs such as "
                                "\"mailto:xmpp@example.org\", got %r"
                                % (value,))


class ContactInfoFactory(PluginFactory):
    name = "contactinfo"
    description = "XEP-0157 contact addresses in the domain's disco#info"
    options = {role: [] for role in ROLES}
    instanceClass = ContactInfo

    def parseConfig(self, options):
        config = parseOptions(self.options, options)
        for role, values in config.items():
            for value in values:
                checkURI(role, value)
        return {role: tuple(values) for role, values in config.items()}


contactinfo = ContactInfoFactory()
