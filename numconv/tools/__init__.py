"""Teaching and inspection tools: gradient checking, summaries, pictures."""

from .gradcheck import GradcheckError, GradcheckReport, TensorCheck, gradcheck

__all__ = ["gradcheck", "GradcheckReport", "GradcheckError", "TensorCheck"]
