"""Physical names for built-in resources that have nothing real behind them.

Heat names such resources `<stack>-<resource>-<random suffix>`. Deriving the
suffix from the idempotency key instead keeps `create` safe to repeat: a retry
after an engine crash reports the same physical id.
"""

from __future__ import annotations

import hashlib

from actors.base import ActorContext


def physical_resource_name(ctx: ActorContext) -> str:
    suffix = hashlib.sha256(ctx.idempotency_key.encode()).hexdigest()[:12]
    return f"{ctx.stack_name}-{ctx.resource_name}-{suffix}"
