"""Tests of wavenet_music/wavenet/."""
