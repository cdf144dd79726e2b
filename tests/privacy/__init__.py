"""Tests of issue 18's privacy flow: requests, propagation, screening and resurrection paths."""
