"""GET /algorithms: what can be run, described for API users."""

from __future__ import annotations

from flask.testing import FlaskClient


def test_descriptions_are_plain_text_without_restructuredtext_literals(client: FlaskClient) -> None:
    # Given PrimeChecker, whose docstring marks code as ``factors``
    # When a client lists the algorithms
    listed = {a["name"]: a for a in client.get("/algorithms").get_json()}

    # Then the description reads as plain text
    description = listed["PrimeChecker"]["description"]
    assert description.startswith("Decides primality exactly and factorises within a time budget.")
    assert "``" not in description
    assert "factors is the prime factorisation" in description
    assert "([] for 1 and for" in description
    assert all("``" not in a["description"] for a in listed.values())
