"""Restructurings are read where their case is (``Case.restructurings``) and by id through
``node(id:)`` (``api.restructuring.types.restructuring_node``): no root query of their own."""
