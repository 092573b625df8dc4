"""Tests of wavenet_music/runtime/."""
