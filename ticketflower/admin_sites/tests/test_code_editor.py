"""Code tasks on the design site: the field checks at line and column, and "try it" runs through a job."""

import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from conftest import Tenant
from tests.factories import make_user
from tests.live_parts import job_worker, wait_until
from ticketflower.codetasks.models import CodeTrial
from ticketflower.codetasks.services import TRIALS_KEPT
from ticketflower.definitions.models import TaskDefinition
from ticketflower.definitions.services import bundle_import
from ticketflower.tenancy.context import company_context
from ticketflower.tenancy.models import SystemRole

GOOD = "def run(input, context):\n    print('got', input)\n    return {'total': input['quantity'] * 2}\n"


def draft(tenant: Tenant, source: str = GOOD) -> TaskDefinition:
    bundle = {
        "workflow": {
            "title": "Prices",
            "fields": [
                {"name": "quantity", "type": "integer", "label": "Quantity"},
                {"name": "total", "type": "integer", "label": "Total"},
            ],
            "tasks": [
                {
                    "key": "price",
                    "title": "Price",
                    "type": "CODE",
                    "code": source,
                    "input_schema": {"type": "object", "properties": {"quantity": {"type": "integer"}}},
                    "output_schema": {"type": "object", "properties": {"total": {"type": "integer"}}},
                }
            ],
            "transitions": [{"from": None, "to": "price"}],
        }
    }
    imported = bundle_import(actor=tenant.designer, bundle=bundle)
    assert imported.workflow is not None, imported.problems
    with company_context(tenant.company):
        return TaskDefinition.objects.get(workflow=imported.workflow)


def post_json(client: Client, url: str, body: Any) -> tuple[int, dict[str, Any]]:
    response = client.post(url, json.dumps(body), content_type="application/json")
    return response.status_code, response.json()


def done(client: Client, url: str) -> dict[str, Any]:
    """The try at `url` once the sandbox has answered."""

    def answered() -> dict[str, Any]:
        answer: dict[str, Any] = client.get(url).json()
        return answer if answer["status"] == "done" else {}

    return wait_until(answered, what="the try")


def task_form(task: TaskDefinition, **changes: Any) -> dict[str, Any]:
    data = {
        "workflow": task.workflow_id,
        "title": task.title,
        "key": task.key,
        "task_type": task.task_type,
        "description": "",
        "assignment": "auto",
        "worker_role": "",
        "input_schema": json.dumps(task.input_schema),
        "output_schema": json.dumps(task.output_schema),
        "action_url": "",
        "timeout_seconds": "",
        "input_transform": "null",
        "output_transform": "null",
        "code": task.code,
        "edit_layout": "",
        "display_layout": "",
        "ext_ref": "[]",
    }
    return {**data, **changes}


@pytest.mark.django_db
def test_the_task_page_has_the_code_editor_with_a_sample_input(client: Client, tenant_a: Tenant) -> None:
    task = draft(tenant_a)
    client.force_login(tenant_a.designer)
    page = client.get(f"/design/definitions/taskdefinition/{task.pk}/change/").content.decode()
    assert 'data-code-check="/design/code/check/"' in page and 'data-code-try="/design/code/try/"' in page
    assert f'data-code-task="{task.pk}"' in page
    assert 'data-code-sample="{&quot;quantity&quot;: 1}"' in page
    assert "admin_sites/code_editor.js" in page


@pytest.mark.django_db
def test_saving_code_that_does_not_parse_shows_the_line_and_column(client: Client, tenant_a: Tenant) -> None:
    task = draft(tenant_a)
    client.force_login(tenant_a.designer)
    url = f"/design/definitions/taskdefinition/{task.pk}/change/"
    broken = "import os\n\ndef run(input, context):\n    return {'total': (1}\n"
    response = client.post(url, task_form(task, code=broken))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["code"]
    assert errors == [
        "Line 4, column 24: The code does not parse: closing parenthesis '}' does not match opening parenthesis '('."
    ]
    response = client.post(
        url, task_form(task, code="import os\n\ndef run(input, context):\n    return {}\n")
    )
    assert (
        response.context["adminform"].form.errors["code"][0].startswith("Line 1, column 1: import os is not")
    )
    response = client.post(url, task_form(task, code=""))
    assert response.context["adminform"].form.errors["code"] == [
        "A code task needs its code: def run(input, context) returning a dict."
    ]
    with company_context(tenant_a.company):
        assert TaskDefinition.objects.get(pk=task.pk).code == GOOD  # nothing was saved

    fixed = GOOD.replace("* 2", "* 3")
    assert client.post(url, task_form(task, code=fixed)).status_code == 302
    with company_context(tenant_a.company):
        assert TaskDefinition.objects.get(pk=task.pk).code == fixed


@pytest.mark.django_db
def test_the_live_check_answers_problems_with_their_place(client: Client, tenant_a: Tenant) -> None:
    client.force_login(tenant_a.designer)
    status, answer = post_json(
        client, "/design/code/check/", {"source": "def run(input, context):\n  return {\n"}
    )
    assert status == 200
    assert answer["problems"] == [
        {"line": 2, "column": 10, "text": "Line 2, column 10: The code does not parse: '{' was never closed."}
    ]
    assert post_json(client, "/design/code/check/", {"source": GOOD}) == (200, {"problems": []})
    assert post_json(client, "/design/code/check/", {"code": GOOD})[0] == 400
    assert client.post("/design/code/check/", "not json", content_type="application/json").status_code == 400
    assert client.get("/design/code/check/").status_code == 405


@pytest.mark.django_db(transaction=True)
def test_try_runs_the_editors_code_through_a_job_and_shows_the_answer(
    client: Client, tenant_a: Tenant
) -> None:
    task = draft(tenant_a)
    client.force_login(tenant_a.designer)
    edited = GOOD.replace("* 2", "* 5")  # not saved: the editor's text is what runs
    status, started = post_json(
        client, "/design/code/try/", {"task": task.pk, "source": edited, "input": {"quantity": 4}}
    )
    assert status == 202
    assert started["url"] == f"/design/code/tries/{started['trial']}/"
    assert client.get(started["url"]).json() == {"status": "queued"}  # nothing ran in the request
    with job_worker():
        answer = done(client, started["url"])
    assert answer["outcome"] == "ok" and answer["output"] == {"total": 20}
    assert answer["log"] == "got {'quantity': 4}\n" and answer["output_problems"] == {}
    with company_context(tenant_a.company):
        assert TaskDefinition.objects.get(pk=task.pk).code == GOOD  # a try changes nothing


@pytest.mark.django_db(transaction=True)
def test_a_try_shows_the_traceback_and_what_does_not_fit_the_schema(client: Client, tenant_a: Tenant) -> None:
    task = draft(tenant_a)
    client.force_login(tenant_a.designer)
    raising = "def run(input, context):\n    return {'total': input['count']}\n"
    unfit = "def run(input, context):\n    return {'total': 'many', 'extra': 1}\n"
    with job_worker():
        answers = [
            done(
                client,
                post_json(client, "/design/code/try/", {"task": task.pk, "source": source, "input": {}})[1][
                    "url"
                ],
            )
            for source in (raising, unfit)
        ]
    assert answers[0]["outcome"] == "exception" and answers[0]["message"] == "KeyError: 'count'"
    assert "line 2, in run" in answers[0]["traceback"]
    assert answers[1]["outcome"] == "ok"
    assert answers[1]["output_problems"] == {
        "extra": ["'extra' is not a field this task records."],
        "total": ["'many' is not of type 'integer'"],
    }


@pytest.mark.django_db
def test_a_try_is_refused_with_reasons_before_anything_is_queued(client: Client, tenant_a: Tenant) -> None:
    task = draft(tenant_a)
    client.force_login(tenant_a.designer)
    status, answer = post_json(
        client, "/design/code/try/", {"task": task.pk, "source": "import os\n", "input": {}}
    )
    assert status == 400 and answer["problems"]["source"][0].startswith("Line 1, column 1: import os is not")
    status, answer = post_json(client, "/design/code/try/", {"task": task.pk, "source": GOOD, "input": [1]})
    assert status == 400 and answer["problems"] == {
        "input": ['The input must be a JSON object: {"field": value, ...}.']
    }
    assert post_json(client, "/design/code/try/", {"task": "1", "source": GOOD})[0] == 400
    assert (
        post_json(client, "/design/code/try/", {"task": task.pk + 1000, "source": GOOD, "input": {}})[0]
        == 404
    )
    with company_context(tenant_a.company):
        assert not CodeTrial.objects.exists()


@pytest.mark.django_db
def test_tries_belong_to_their_person_and_company(client: Client, tenant_a: Tenant, tenant_b: Tenant) -> None:
    task = draft(tenant_a)
    client.force_login(tenant_a.designer)
    url = post_json(client, "/design/code/try/", {"task": task.pk, "source": GOOD, "input": {}})[1]["url"]
    client.force_login(tenant_b.designer)  # another company's designer
    assert client.get(url).status_code == 404
    assert post_json(client, "/design/code/try/", {"task": task.pk, "source": GOOD, "input": {}})[0] == 404
    other = make_user(tenant_a.company, roles=[SystemRole.WORKFLOW_CREATOR])
    client.force_login(other)  # a designer of the same company, not the one who tried it
    assert client.get(url).status_code == 404


def jobs_picked_up() -> None:
    """As if a worker had run every queued try (its locks are free again)."""
    with connection.cursor() as cursor:  # the jobs table is read-only to Django's models
        cursor.execute("UPDATE procrastinate_jobs SET status = 'succeeded' WHERE status = 'todo'")


def try_status(client: Client, task: TaskDefinition) -> int:
    return post_json(client, "/design/code/try/", {"task": task.pk, "source": GOOD, "input": {}})[0]


@pytest.mark.django_db
def test_each_person_keeps_only_their_latest_tries(client: Client, tenant_a: Tenant) -> None:
    task = draft(tenant_a)
    client.force_login(tenant_a.designer)
    for _ in range(TRIALS_KEPT + 3):
        assert try_status(client, task) == 202
        jobs_picked_up()
    with company_context(tenant_a.company):
        assert CodeTrial.objects.count() == TRIALS_KEPT


@pytest.mark.django_db
def test_one_try_waits_per_person(client: Client, tenant_a: Tenant) -> None:
    task = draft(tenant_a)
    client.force_login(tenant_a.designer)
    assert try_status(client, task) == 202
    status, answer = post_json(client, "/design/code/try/", {"task": task.pk, "source": GOOD, "input": {}})
    assert status == 400
    assert answer["problems"] == {"source": ["Your last try is still waiting to run: wait for its answer."]}
    with company_context(tenant_a.company):
        assert CodeTrial.objects.count() == 1  # the refused one left nothing behind
    jobs_picked_up()
    assert try_status(client, task) == 202


BAD_BODIES = {
    "nan": '{"task": TASK, "source": "def run(input, context):\\n    return {}\\n", "input": {"x": NaN}}',
    "nul": '{"task": TASK, "source": "def run(input, context):\\n    return {}\\n", "input": {"x": "\\u0000"}}',
    "surrogate": '{"task": TASK, "source": "def run(input, context):\\n    return {}\\n", "input": {"x": "\\ud800"}}',
    "deep": '{"task": TASK, "source": "x", "input": ' + "[" * 50_000 + "]" * 50_000 + "}",
}


@pytest.mark.django_db
@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_a_body_that_cannot_be_kept_is_a_400(client: Client, tenant_a: Tenant, body: str) -> None:
    task = draft(tenant_a)
    client.force_login(tenant_a.designer)
    for url in ("/design/code/try/", "/design/code/check/"):
        response = client.post(url, body.replace("TASK", str(task.pk)), content_type="application/json")
        assert response.status_code == 400, url
    with company_context(tenant_a.company):
        assert not CodeTrial.objects.exists()


@pytest.mark.django_db
def test_tries_are_rate_limited(client: Client, tenant_a: Tenant, settings: Any) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "code_tries_per_user": {"limit": 2, "window": 3600}}
    task = draft(tenant_a)
    client.force_login(tenant_a.designer)
    statuses = []
    for _ in range(3):
        statuses.append(try_status(client, task))
        jobs_picked_up()
    assert statuses == [202, 202, 429]
