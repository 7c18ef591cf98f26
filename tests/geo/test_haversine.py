"""Haversine distances and the unit-sphere chord mapping the k-d trees rely on."""

import numpy as np
import pytest

from deeprule.geo.haversine import EARTH_RADIUS_KM, haversine_km, km_to_chord, unit_xyz


def test_one_degree_of_longitude_on_the_equator() -> None:
    assert haversine_km(0.0, 0.0, 0.0, 1.0) == pytest.approx(EARTH_RADIUS_KM * np.pi / 180)


def test_known_city_distance_and_symmetry() -> None:
    # Beijing -> Shanghai, about 1,067 km great-circle
    d = haversine_km(39.9042, 116.4074, 31.2304, 121.4737)
    assert d == pytest.approx(1067.0, abs=5.0)
    assert haversine_km(31.2304, 121.4737, 39.9042, 116.4074) == pytest.approx(d, rel=1e-12)
    assert haversine_km(10.0, 20.0, 10.0, 20.0) == 0.0


def test_antipodes_are_half_the_circumference() -> None:
    assert haversine_km(0.0, 0.0, 0.0, 180.0) == pytest.approx(np.pi * EARTH_RADIUS_KM)


def test_chord_of_the_haversine_distance_is_the_straight_line() -> None:
    rng = np.random.default_rng(1)
    lat1, lat2 = rng.uniform(-80, 80, (2, 500))
    lon1, lon2 = rng.uniform(-180, 180, (2, 500))
    chord = np.linalg.norm(unit_xyz(lat1, lon1) - unit_xyz(lat2, lon2), axis=1)
    np.testing.assert_allclose(km_to_chord(haversine_km(lat1, lon1, lat2, lon2)), chord,
                               rtol=1e-9, atol=1e-12)
