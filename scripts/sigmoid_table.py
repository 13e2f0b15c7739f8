#!/usr/bin/env python3
"""Prints the tables of crates/riffle-ml/src/online/sigmoid.rs: for j in 0..256, the bits of
the f64 nearest sigma(-j/16) = 1 / (1 + e^(j/16)) (CENTRES), and, for the tests, the bits of
the f64 nearest sigma(-t) at t = i * 0.1337 for i in 0..300 (REFERENCE) and, with the
f64 nearest the rest (the exact value less the nearest f64), at each table step's upper
edge, t = j / 16 + 1 / 32 (EDGES), where the polynomial is furthest from its centre. Computed to 60
digits with the standard library's decimal, whose exp is correctly rounded at that
precision; float() of a Decimal is the nearest f64.

Usage: python3 scripts/sigmoid_table.py
"""
import struct
from decimal import Decimal, getcontext

getcontext().prec = 60


def bits(value: Decimal) -> str:
    return "0x%016x" % struct.unpack("<Q", struct.pack("<d", float(value)))[0]


def smaller_side(t: Decimal) -> Decimal:
    return 1 / (1 + t.exp())


def rows(values, per_line):
    for i in range(0, len(values), per_line):
        print("    " + ", ".join(values[i:i + per_line]) + ",")


print("const CENTRES: [u64; 256] = [")
rows([bits(smaller_side(Decimal(j) / 16)) for j in range(256)], 4)
print("];")
print("const REFERENCE: [u64; 300] = [")
# Decimal(float) is the float's exact value, so t is the f64 the Rust test forms.
rows([bits(smaller_side(Decimal(i * 0.1337))) for i in range(300)], 4)
print("];")
print("const EDGES: [[u64; 2]; 256] = [")
edges = [smaller_side(Decimal(j) / 16 + Decimal(1) / 32) for j in range(256)]
rows(["[%s, %s]" % (bits(v), bits(v - Decimal(float(v)))) for v in edges], 2)
print("];")
