"""A dict where a pydantic model is declared, from the caller and between tasks."""

from pydantic import BaseModel

import flyte

env = flyte.TaskEnvironment(name="compat_pydantic")


class Order(BaseModel):
    item: str
    quantity: int = 1


@env.task
def total(order: Order, price: float) -> float:
    return order.quantity * price


@env.task
def main(order: Order) -> Order:
    cost = total(order={"item": order.item, "quantity": order.quantity * 2}, price=1.5)
    return Order(item=f"{order.item} ({cost})", quantity=order.quantity)


INPUTS = {"order": {"item": "tea", "quantity": 2}}
EXPECTED = {"phase": "SUCCEEDED", "outputs": [{"item": "tea (6.0)", "quantity": 2}]}
