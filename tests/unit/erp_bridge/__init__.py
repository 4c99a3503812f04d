"""Unit tests of the erp-bridge CommerceML codec (`oms_erp_bridge.cml`)."""
