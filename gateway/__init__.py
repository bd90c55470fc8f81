# The per-frame modules run compiled when their extensions match their sources, and from the
# sources otherwise (gateway/native.py): judged before any of them is imported.
from gateway.native import use_current_code

use_current_code()
