"""Tests of the strategy plans, the plan runner and both executors."""
