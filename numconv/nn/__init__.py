"""Layers: thin wrappers that own parameters and call ``numconv.functional``.

Names, constructor arguments, defaults, parameter shapes, buffer names and
``state_dict`` keys are PyTorch's, so a ``state_dict`` moves between numconv
and PyTorch unchanged.
"""

from .activation import *  # noqa: F401,F403
from .basic import *  # noqa: F401,F403
from .container import ModuleDict, ModuleList, Sequential
from .conv import *  # noqa: F401,F403
from .conv_transpose import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .merge import *  # noqa: F401,F403
from .module import Module
from .norm import *  # noqa: F401,F403
from .padding import *  # noqa: F401,F403
from .parameter import Parameter
from .pool import *  # noqa: F401,F403
from .upsample import *  # noqa: F401,F403
