"""The math of every layer, as pure functions on ndarrays.

Every op is a pair::

    out, cache = op(x, ...)              # forward
    grads = op_backward(dout, cache)     # backward: one gradient per array input

``cache`` holds what the backward pass needs. There is no hidden state:
calling the pair twice gives the same answer. A functional op keeps its
input's dtype (float32 or float64).
"""

from .activation import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .conv_transpose import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .im2col import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .loss_pointwise import *  # noqa: F401,F403
from .norm import *  # noqa: F401,F403
from .norm_layer import *  # noqa: F401,F403
from .padding import *  # noqa: F401,F403
from .pool import *  # noqa: F401,F403
from .pool_adaptive import *  # noqa: F401,F403
from .softmax import *  # noqa: F401,F403
from .upsample import *  # noqa: F401,F403
