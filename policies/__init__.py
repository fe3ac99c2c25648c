"""The bundled policies, an OPA-style bundle root shipped inside the package (`quanze.policies`)."""
