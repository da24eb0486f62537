"""Customer isolation: customer B tries everything against customer A."""
