"""(family under construction)"""

__all__ = []
