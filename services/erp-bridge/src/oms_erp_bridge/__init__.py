"""OMS ERP bridge service."""
