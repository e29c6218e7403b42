"""optax-plp: Parameter Linear Prediction for optax."""

from optax_plp._plp import RULES
from optax_plp._plp import PLPState
from optax_plp._plp import plp
from optax_plp._plp import with_plp

__version__ = '0.2.0.dev0'

__all__ = (
  'RULES',
  'PLPState',
  'plp',
  'with_plp',
)
