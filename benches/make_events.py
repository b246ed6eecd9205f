#!/usr/bin/env python3
"""Writes N cart events, one JSON object per line, to stdout: the input of
the `replay` scaling measurement in BENCHMARKS.md (item 7).

    python3 benches/make_events.py 1000000 > /dev/shm/1m.jsonl

Deterministic (seeded): about 5% of events open a new cart; at most 5,000
carts are open at a time; 75% AddItem (7 item names, qty 1-5, prices
0.01-2000.00 in whole cents), 15% RemoveItem, 10% Checkout.
"""
import json
import random
import sys

ITEMS = ["Widget", "Gadget", "Doohickey", "Gizmo", "Thingamajig", "Sprocket", "Cog"]


def main() -> None:
    n = int(sys.argv[1])
    rng = random.Random(7)
    out = sys.stdout
    carts, live = 0, []
    for _ in range(n):
        if not live or rng.random() < 0.05:
            carts += 1
            live.append(f"cart-{carts}")
            if len(live) > 5000:
                live.pop(0)
        cart = rng.choice(live)
        r = rng.random()
        if r < 0.75:
            event = {"type": "AddItem", "cart_id": cart, "item": rng.choice(ITEMS),
                     "qty": rng.randint(1, 5), "price": rng.randint(1, 200000) / 100}
        elif r < 0.9:
            event = {"type": "RemoveItem", "cart_id": cart, "item": rng.choice(ITEMS)}
        else:
            event = {"type": "Checkout", "cart_id": cart}
        out.write(json.dumps(event, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
