"""CommerceML 2 codec for the 1C "exchange with a website" protocol (see docs/erp/COMMERCEML.md).

Pure functions, no I/O: `load` untrusted bytes → root element; `kind_of` the root; `parse_orders`,
`parse_catalog`, `parse_offers` into frozen dataclasses; `write_orders` our orders as bytes for 1C's
`mode=query`. Every failure is a `CmlError` whose message can be shown to the 1C user.
"""

from __future__ import annotations

from oms_erp_bridge.cml.catalog import (
    CmlCatalog,
    CmlGroup,
    CmlOffer,
    CmlOffers,
    CmlPriceType,
    CmlProduct,
    CmlWarehouse,
    parse_catalog,
    parse_offers,
)
from oms_erp_bridge.cml.errors import CmlError
from oms_erp_bridge.cml.loader import DEFAULT_MAX_BYTES, Kind, documents, kind_of, load
from oms_erp_bridge.cml.orders import CmlCounterparty, CmlOrder, CmlOrderLine, line_totals_ok, parse_order, parse_orders
from oms_erp_bridge.cml.values import (
    clean_text,
    parse_bool,
    parse_date,
    parse_datetime,
    parse_decimal,
    parse_time,
    parse_vat_rate,
)
from oms_erp_bridge.cml.writer import Encoding, OrderLineOut, OrderOut, RequisiteValue, write_orders

__all__ = [
    "DEFAULT_MAX_BYTES",
    "CmlCatalog",
    "CmlCounterparty",
    "CmlError",
    "CmlGroup",
    "CmlOffer",
    "CmlOffers",
    "CmlOrder",
    "CmlOrderLine",
    "CmlPriceType",
    "CmlProduct",
    "CmlWarehouse",
    "Encoding",
    "Kind",
    "OrderLineOut",
    "OrderOut",
    "RequisiteValue",
    "clean_text",
    "documents",
    "kind_of",
    "line_totals_ok",
    "load",
    "parse_bool",
    "parse_catalog",
    "parse_date",
    "parse_datetime",
    "parse_decimal",
    "parse_offers",
    "parse_order",
    "parse_orders",
    "parse_time",
    "parse_vat_rate",
    "write_orders",
]
