"""The one registry of Kafka topic names; no other module spells a topic."""

from __future__ import annotations

ORDER_PLACED = "order.placed"
ORDER_STATUS_CHANGED = "order.status_changed"
ORDER_CHANGED = "order.changed"
ORDER_DELETED = "order.deleted"
PRICE_LIST_UPDATED = "pricelist.updated"
ACCOUNT_UPDATED = "account.updated"
BUYER_UPDATED = "buyer.updated"
RESERVE_UPDATED = "reserve.updated"
STOCK_UPDATED = "stock.updated"
WAREHOUSE_UPDATED = "warehouse.updated"
PRODUCT_UPDATED = "product.updated"
ERP_ORDER_CHANGED = "erp.order_changed"
ERP_STOCK_IMPORTED = "erp.stock_imported"
NOTIFICATION_DELIVERED = "notification.delivered"
PASSWORD_RESET_REQUESTED = "user.password_reset_requested"
BUYER_INVITED = "buyer.invited"
EMPLOYEE_INVITED = "employee.invited"

ALL_TOPICS: tuple[str, ...] = (
    ORDER_PLACED,
    ORDER_STATUS_CHANGED,
    ORDER_CHANGED,
    ORDER_DELETED,
    PRICE_LIST_UPDATED,
    ACCOUNT_UPDATED,
    BUYER_UPDATED,
    RESERVE_UPDATED,
    STOCK_UPDATED,
    WAREHOUSE_UPDATED,
    PRODUCT_UPDATED,
    ERP_ORDER_CHANGED,
    ERP_STOCK_IMPORTED,
    NOTIFICATION_DELIVERED,
    PASSWORD_RESET_REQUESTED,
    BUYER_INVITED,
    EMPLOYEE_INVITED,
)

DLQ_SUFFIX = ".dlq"
DEFAULT_PARTITIONS = 3


def dlq(topic: str) -> str:
    """The dead-letter topic of ``topic``."""
    return topic + DLQ_SUFFIX


def all_topics_with_dlq() -> list[str]:
    """Every business topic followed by its dead-letter topic."""
    return [t for topic in ALL_TOPICS for t in (topic, dlq(topic))]
