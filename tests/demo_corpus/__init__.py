"""Tests of wavenet_music/demo_corpus/."""
