"""Locust user journeys, load shapes and the raw-sample recorder."""
