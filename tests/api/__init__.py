"""Tests of the network edge: SOAP contract, envelopes, HTTP, real clients."""
