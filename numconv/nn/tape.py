"""The tape of layer calls: how a model with only a ``forward`` gets its ``backward``.

Every layer in numconv differentiates itself: its ``backward`` turns the
gradient of its output into the gradient of its input. A model written the
PyTorch way, as a ``Module`` subclass with a ``forward`` that calls layers,
needs one more thing: the bookkeeping that chains those backward passes. This
file is that bookkeeping. It is what autograd does, at the grain of layer
calls instead of single operations.

Forward: recording
    Each call ``layer(x)`` made inside a module's ``forward`` becomes a
    :class:`Call` on that module's tape, in order, holding what the layer
    kept for its backward (its *cache*: per call, not per layer, so one
    layer may be called several times). For every array argument the call
    notes where the array came from (its :class:`Source`): the output of an
    earlier call, an input of the module, a view of one of those
    (``x.reshape(n, -1)``, ``x[:, None]``, ``x.T``) or a copy of one
    (``x.flatten()``). An array that came from none of them was made by NumPy
    arithmetic between layers; that is noted as a problem.

Backward: replay
    ``module.backward(grad)`` walks the tape in reverse. It keeps one
    gradient per recorded array (a *slot*): each call gets the gradient of
    its output, runs its own ``backward``, and adds the result into the slot
    each argument came from. A slot used by several calls therefore receives
    the **sum** of their gradients (a fork in the graph). Views get their
    gradient reshaped back onto the array they view. Before anything is
    computed, the problems are checked: NumPy arithmetic between layers
    (``self.conv(x) + x``) is refused with an error that names the call and
    the fix (``nn.Add``, ``nn.Cat``, ...), never differentiated wrongly.

Modules that define their own ``backward`` are not replayed: their calls are
still recorded (so their backward can call ``self.child.backward(g)``, and
each such call finds its own cache), but the module's backward decides what
to do with them. ``Sequential`` defines none: it is the tape's simplest case.

State is per thread: each thread has its own stack of running calls and its
own "last outermost call" per module, so two threads may use one model.

The code is in three files: ``tape_record.py`` (the forward: :class:`Call`,
:class:`Source`, ``record_call``), ``tape_replay.py`` (the backward:
``run_backward``, ``replay``, ``replay_chain``) and ``tape_arrays.py`` (which
arrays carry gradients, the fingerprints that notice in-place changes,
gradients through views). This module gathers their names, so
``tape.replay(...)`` and ``tape.last_call(...)`` read as before.
"""

from __future__ import annotations

from .tape_arrays import (_differentiable, _fingerprint, _gradient_through_view, _is_view_of, _outputs,
                          _unchanged)
from .tape_record import (COPY, SAME, VIEW, Call, Source, TapeError, being_differentiated, current_call, keep_cache,
                          last_call, last_differentiated, record_call)
from .tape_replay import check_unchanged, replay, replay_chain, run_backward, take_cache

__all__ = ["Call", "Source", "TapeError", "last_call", "record_call", "run_backward", "replay"]
