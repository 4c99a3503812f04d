"""OMS Notifications service."""
