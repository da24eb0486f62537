"""SOAP 1.1 document/literal adapter, contract first.

The contract is the hand-written ``regwatch.wsdl`` and ``regwatch.xsd`` beside
this file; the code reads requests and writes answers to match it, and tests
hold every answer against the XSD.
"""
