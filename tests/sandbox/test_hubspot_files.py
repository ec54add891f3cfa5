"""File upload as HubSpot's Files API takes it: multipart, options with access, one folder, and
the bytes readable back through a signed URL and the control surface."""

from __future__ import annotations

import json

import pytest

from tests.sandbox.test_hubspot_support import START, FakeClock, install, simulator

PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


@pytest.fixture
def clock():
    return FakeClock(START)


@pytest.fixture
def app(clock):
    return install(simulator(clock))


def upload(app, content=PDF, filename="invoice-1001.pdf", options=None, **form):
    data = {"options": json.dumps(options or {"access": "PRIVATE"}), **form}
    if "folderId" not in form:
        data.setdefault("folderPath", "/fortnox/invoices")
    data = {k: v for k, v in data.items() if v is not None}
    return app.call("POST", "/files/2026-03/files", files={"file": (filename, content, "application/pdf")}, data=data)


def test_an_upload_answers_201_with_the_file(app):
    response = upload(app)
    assert response.status_code == 201
    body = response.json()
    assert body["id"].isdigit()
    assert (body["name"], body["extension"], body["access"]) == ("invoice-1001", "pdf", "PRIVATE")
    assert body["path"] == "/fortnox/invoices/invoice-1001.pdf"
    assert body["size"] == len(PDF)
    assert body["type"] == "DOCUMENT"
    assert response.headers["Location"].endswith(f"/files/2026-03/files/{body['id']}")


def test_the_bytes_read_back_through_the_control_surface(app):
    file_id = upload(app).json()["id"]
    content = app.client.get(f"/_sandbox/files/{file_id}/content")
    assert content.content == PDF
    assert content.headers["Content-Type"] == "application/pdf"


def test_a_signed_url_gives_the_bytes_until_it_expires(app, clock):
    file_id = upload(app).json()["id"]
    signed = app.call("GET", f"/files/2026-03/files/{file_id}/signed-url", params={"expirationSeconds": 60}).json()
    assert signed["expiresAt"] == "2026-03-02T08:01:00.000Z"
    assert app.client.get(signed["url"]).content == PDF
    clock.advance(61)
    assert app.client.get(signed["url"]).status_code == 403


def test_file_name_names_the_file_and_the_extension_stays(app):
    body = upload(app, fileName="Faktura 1001").json()
    assert (body["name"], body["extension"]) == ("Faktura 1001", "pdf")


def test_the_same_name_in_a_folder_is_renamed_unless_overwrite(app):
    first = upload(app).json()
    second = upload(app, content=PDF + b" ").json()
    assert second["name"] == "invoice-1001-1"
    replaced = upload(app, content=PDF + b"  ", options={"access": "PRIVATE", "overwrite": True}).json()
    assert replaced["name"] == "invoice-1001"
    assert app.call("GET", f"/files/2026-03/files/{first['id']}").status_code == 404


def test_duplicate_validation_returns_or_rejects_the_existing_file(app):
    first = upload(app).json()
    same = upload(app, filename="copy.pdf", options={"access": "PRIVATE",
                                                      "duplicateValidationStrategy": "RETURN_EXISTING"})
    assert same.json()["id"] == first["id"]
    rejected = upload(app, filename="copy.pdf", options={"access": "PRIVATE",
                                                          "duplicateValidationStrategy": "REJECT"})
    assert rejected.status_code == 409


def test_an_upload_can_name_an_existing_folder_by_id(app):
    folder_id = upload(app).json()["parentFolderId"]
    body = upload(app, filename="b.pdf", content=b"other", folderPath=None, folderId=folder_id).json()
    assert body["path"] == "/fortnox/invoices/b.pdf"


@pytest.mark.parametrize("form", [
    {"options": None},
    {"options": "not json"},
    {"options": json.dumps({"overwrite": True})},
    {"options": json.dumps({"access": "SECRET"})},
    {"folderPath": None},
    {"folderPath": "/a", "folderId": "1"},
    {"folderPath": None, "folderId": "999"},
])
def test_invalid_uploads_are_rejected(app, form):
    data = {"options": json.dumps({"access": "PRIVATE"}), "folderPath": "/fortnox", **form}
    data = {k: v for k, v in data.items() if v is not None}
    response = app.call("POST", "/files/2026-03/files", files={"file": ("a.pdf", PDF, "application/pdf")}, data=data)
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"


def test_an_upload_without_a_file_is_rejected(app):
    response = app.call("POST", "/files/2026-03/files", files={"other": ("a.pdf", PDF)},
                        data={"options": json.dumps({"access": "PRIVATE"}), "folderPath": "/x"})
    assert response.status_code == 400


def test_a_missing_file_is_a_404(app):
    assert app.call("GET", "/files/2026-03/files/123").status_code == 404


def test_files_need_the_files_scope(clock):
    app = install(simulator(clock), scopes="oauth crm.objects.deals.read")
    assert upload(app).status_code == 403
