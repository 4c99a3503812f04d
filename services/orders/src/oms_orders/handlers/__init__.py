"""Use cases of the orders service: identity, buyers and price lists, orders."""
