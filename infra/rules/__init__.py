"""Pure rules of pulumi-gcp and BigQuery: what a change does to stored events, and drift.

No I/O beyond reading the files they are given: the gate, the lock, the preview gate and the
verifier all judge with these functions.
"""
