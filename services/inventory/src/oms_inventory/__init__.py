"""OMS Inventory service."""
