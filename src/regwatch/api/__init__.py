"""The service's network edge: SOAP (and later REST) over the same services."""
