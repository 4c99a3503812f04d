"""OMS shared library: contracts and plumbing every service stands on."""
