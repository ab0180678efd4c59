"""The LLM generator against a real chat-completions server on 127.0.0.1 replaying recorded answers."""

import itertools
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ticketflower.assistant import generators
from ticketflower.assistant.generators import llm
from ticketflower.assistant.generators.base import (
    ChatMessage,
    Document,
    GeneratorFailed,
    Proposal,
    ProposalRequest,
)
from ticketflower.assistant.generators.llm import LlmGenerator, ReplyWatcher, read_answer, sse_data
from ticketflower.assistant.tests.llm_server import (
    ChatServer,
    chat_server,
    error,
    huge_stream,
    raw,
    recorded,
    sleeping,
    streamed,
    trickling,
    whole,
)

LAUNDRY = recorded("laundry.json")
DELIVERY = recorded("laundry_with_delivery.json")
REQUEST = ProposalRequest(
    messages=[ChatMessage("user", "Customers book a laundry pickup; a driver picks it up.")],
    roles=["Dispatcher", "Washer"],
)


@pytest.fixture
def chat(settings: Any) -> Iterator[ChatServer]:
    with chat_server() as server:
        settings.ASSISTANT_API_BASE = server.base
        settings.ASSISTANT_MODEL = "test-model"
        settings.ASSISTANT_API_KEY = "sk-test-key"
        settings.ASSISTANT_TIMEOUT = 5.0
        settings.ASSISTANT_REPAIR_ROUNDS = 3
        yield server


def propose(request: ProposalRequest = REQUEST, **kwargs: Any) -> Proposal:
    return LlmGenerator().propose(request, **kwargs)


def failure(request: ProposalRequest = REQUEST, **kwargs: Any) -> str:
    with pytest.raises(GeneratorFailed) as caught:
        propose(request, **kwargs)
    return str(caught.value)


# --- answers --------------------------------------------------------------------------------


def test_a_valid_answer_becomes_a_proposal_in_one_round(chat: ChatServer) -> None:
    chat.answer(streamed(LAUNDRY, usage=(1500, 420)))
    shown: list[str] = []

    proposal = propose(on_text=shown.append)

    answer = json.loads(LAUNDRY)
    assert proposal.bundle == answer["bundle"]
    assert proposal.reply == answer["reply"]
    assert proposal.questions == answer["questions"]
    assert proposal.problems == []
    usage = proposal.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.rounds) == (1500, 420, 1)
    assert 0 < usage.seconds < 5


def test_on_text_sees_the_reply_grow_with_escapes_decoded(chat: ChatServer) -> None:
    chat.answer(streamed(LAUNDRY, piece=5))
    shown: list[str] = []

    propose(on_text=shown.append)

    reply = json.loads(LAUNDRY)["reply"]
    assert len(shown) > 5
    assert shown[-1] == reply  # "“…”" and "\n" decoded
    assert all(reply.startswith(text) for text in shown)
    assert all(len(a) < len(b) for a, b in itertools.pairwise(shown))


def test_the_request_is_a_streamed_structured_chat_completion(chat: ChatServer) -> None:
    chat.answer(streamed(LAUNDRY))

    propose()

    [sent] = chat.received
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-test-key"
    body = sent.body
    assert body["model"] == "test-model"
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    response_format = body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "proposal"
    assert response_format["json_schema"]["strict"] is False
    schema = response_format["json_schema"]["schema"]
    assert schema["properties"]["bundle"] == {"type": "object"}
    assert set(schema["required"]) == {"reply", "questions", "bundle"}
    assert [m["role"] for m in sent.messages] == ["system", "user"]
    assert sent.messages[1]["content"] == REQUEST.messages[0].text


def test_no_authorization_header_without_a_key(chat: ChatServer, settings: Any) -> None:
    settings.ASSISTANT_API_KEY = ""
    chat.answer(streamed(LAUNDRY))

    propose()

    assert "authorization" not in chat.received[0].headers


def test_the_system_prompt_carries_the_docs_roles_draft_documents_and_conversation(chat: ChatServer) -> None:
    chat.answer(streamed(DELIVERY))
    request = ProposalRequest(
        messages=[
            ChatMessage("user", "Laundry pickups, please."),
            ChatMessage("assistant", "Here is a workflow for laundry pickups."),
            ChatMessage("user", "Add a delivery step for drivers."),
        ],
        documents=[Document(name="price-list.txt", text="Wash and fold: 2 EUR per kilo.")],
        roles=["Dispatcher", "Washer"],
        draft=json.loads(LAUNDRY)["bundle"],
    )

    propose(request)

    [sent] = chat.received
    system = sent.system
    assert '"Dispatcher", "Washer"' in system
    assert "ticketflower-bundle/1" in system
    assert "# The workflow bundle format" in system  # docs/bundle-format.md
    assert "# Layouts: React components that run in a sandbox" in system  # docs/layouts.md
    assert "@ticketflower/kit" in system
    assert "worker_role and a ticket type's allowed_roles may name roles the company does not have" in system
    assert json.dumps(request.draft, ensure_ascii=False) in system
    assert "## Document: price-list.txt\n\nWash and fold: 2 EUR per kilo." in system
    assert "cut" not in system.split("# Documents the person uploaded")[1]
    assert [(m["role"], m["content"]) for m in sent.messages[1:]] == [
        (m.role, m.text) for m in request.messages
    ]


def test_long_documents_are_cut_and_the_model_is_told(chat: ChatServer) -> None:
    chat.answer(streamed(LAUNDRY))
    request = ProposalRequest(
        messages=REQUEST.messages,
        documents=[
            Document(name="manual.txt", text="a" * 50_000),
            Document(name="handbook.txt", text="b" * 50_000),
            Document(name="notes.txt", text="c" * 10),
        ],
    )

    propose(request)

    system = chat.received[0].system
    assert "a" * 50_000 in system
    assert "b" * 10_000 in system and "b" * 10_001 not in system
    assert "ccc" not in system
    assert "only their start is shown. Say so in your reply." in system
    assert "## Document: notes.txt\n\n[not read: over the limit]" in system
    assert "The company has no roles yet." in system


def test_a_non_streamed_json_answer_is_accepted(chat: ChatServer) -> None:
    chat.answer(whole(LAUNDRY, usage=(900, 200)))
    shown: list[str] = []

    proposal = propose(on_text=shown.append)

    assert proposal.bundle == json.loads(LAUNDRY)["bundle"]
    assert (proposal.usage.prompt_tokens, proposal.usage.completion_tokens) == (900, 200)
    assert shown == [json.loads(LAUNDRY)["reply"]]


def test_an_answer_in_a_code_fence_is_read(chat: ChatServer) -> None:
    chat.answer(streamed(f"```json\n{LAUNDRY}\n```"))

    assert propose().bundle == json.loads(LAUNDRY)["bundle"]


# --- repair ---------------------------------------------------------------------------------


def test_invalid_json_is_fed_back_and_the_repaired_answer_taken(chat: ChatServer) -> None:
    truncated = LAUNDRY[: len(LAUNDRY) // 2]
    chat.answer(streamed(truncated, usage=(1000, 100)), streamed(LAUNDRY, usage=(1300, 400)))

    proposal = propose()

    assert proposal.bundle == json.loads(LAUNDRY)["bundle"]
    assert proposal.usage.rounds == 2
    assert (proposal.usage.prompt_tokens, proposal.usage.completion_tokens) == (2300, 500)
    first, second = chat.received
    assert second.messages[: len(first.messages)] == first.messages
    assert second.messages[-2] == {"role": "assistant", "content": truncated}
    repair = second.messages[-1]
    assert repair["role"] == "user"
    assert "The answer is not valid JSON:" in repair["content"]
    assert "line " in repair["content"] and "column " in repair["content"]  # json's own message
    assert "corrected complete JSON object" in repair["content"]


def test_problems_from_check_are_fed_back_until_it_passes(chat: ChatServer) -> None:
    chat.answer(streamed(LAUNDRY), streamed(DELIVERY))
    problem = "workflow.tasks: the driver's delivery step is missing"
    checked: list[dict[str, Any]] = []

    def check(bundle: dict[str, Any]) -> list[str]:
        checked.append(bundle)
        keys = [task["key"] for task in bundle["workflow"]["tasks"]]
        return [] if "deliver" in keys else [problem]

    proposal = propose(check=check)

    assert proposal.bundle == json.loads(DELIVERY)["bundle"]
    assert proposal.usage.rounds == 2
    assert len(checked) == 2
    assert f"- {problem}" in chat.received[1].last_user
    assert proposal.questions == []  # nothing left over


def test_a_missing_bundle_is_fed_back(chat: ChatServer) -> None:
    chat.answer(streamed('{"reply": "Which steps are there?", "questions": []}'), streamed(LAUNDRY))

    proposal = propose()

    assert proposal.usage.rounds == 2
    assert '"bundle" is missing or is not a JSON object.' in chat.received[1].last_user


def test_a_never_valid_answer_fails_after_all_repair_rounds(chat: ChatServer, settings: Any) -> None:
    settings.ASSISTANT_REPAIR_ROUNDS = 2
    chat.answer(*[streamed('{"reply": "Here you go", "bundle": {"workflow": ') for _ in range(3)])

    message = failure()

    assert message.startswith(
        "The assistant's answer could not be read as a workflow: the answer is not valid"
    )
    assert len(chat.received) == 3


def test_a_bundle_that_keeps_failing_check_is_returned_with_a_note(chat: ChatServer, settings: Any) -> None:
    settings.ASSISTANT_REPAIR_ROUNDS = 1
    chat.answer(streamed(LAUNDRY), streamed(LAUNDRY))

    proposal = propose(check=lambda bundle: ["workflow.title: too dull", "workflow.tasks[0]: too few"])

    assert proposal.bundle == json.loads(LAUNDRY)["bundle"]
    assert proposal.usage.rounds == 2
    assert proposal.questions[-1].startswith(
        "The proposal still has 2 problems (they remained after 1 correction round)"
    )


def test_a_failing_repair_round_keeps_the_bundle_in_hand(chat: ChatServer) -> None:
    chat.answer(streamed(LAUNDRY), error(500, "The model crashed."))

    proposal = propose(check=lambda bundle: ["workflow.title: too dull"])

    assert proposal.bundle == json.loads(LAUNDRY)["bundle"]
    assert (
        "correcting them stopped: The AI service failed (500 Internal Server Error)" in proposal.questions[-1]
    )


# --- failures -------------------------------------------------------------------------------


@pytest.mark.parametrize(("base", "model"), [("", "test-model"), ("http://127.0.0.1:9/v1", "")])
def test_not_configured(settings: Any, base: str, model: str) -> None:
    settings.ASSISTANT_API_BASE = base
    settings.ASSISTANT_MODEL = model

    assert failure() == "The AI assistant is not configured: set ASSISTANT_API_BASE and ASSISTANT_MODEL."


def test_an_unreachable_service(settings: Any) -> None:
    with socket.socket() as taken:  # bound, not listening: connecting is refused
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        settings.ASSISTANT_API_BASE = f"http://127.0.0.1:{port}/v1"
        settings.ASSISTANT_MODEL = "test-model"

        message = failure()

    assert message == f"The AI service at 127.0.0.1:{port} could not be reached: Connection refused."


def test_a_server_silent_past_the_timeout(chat: ChatServer, settings: Any) -> None:
    settings.ASSISTANT_TIMEOUT = 1.0
    chat.answer(sleeping(10, streamed(LAUNDRY)))

    started = time.monotonic()
    message = failure()

    assert message == "The AI service did not answer within 1 seconds."
    assert time.monotonic() - started < 2.5


def test_a_server_trickling_forever_is_cut_off_at_the_deadline(chat: ChatServer, settings: Any) -> None:
    settings.ASSISTANT_TIMEOUT = 1.0
    chat.answer(trickling(interval=0.05))
    shown: list[str] = []

    started = time.monotonic()
    message = failure(on_text=shown.append)

    assert message == "The AI service did not answer within 1 seconds."
    assert 0.9 < time.monotonic() - started < 2.5
    assert shown and set(shown[-1]) == {"."}  # bytes did keep coming


@pytest.mark.parametrize(
    ("status", "told", "says"),
    [
        (401, "Incorrect API key provided: sk-tes***.",
         "The AI service refused the request (401 Unauthorized): Incorrect API key provided: sk-tes***. "
         "Check ASSISTANT_API_KEY."),
        (500, "The server had an error while processing your request.",
         "The AI service failed (500 Internal Server Error): The server had an error while processing "
         "your request. Try again in a while."),
        (429, "Rate limit reached for requests",
         "The AI service is rate limiting requests (429 Too Many Requests): Rate limit reached for "
         "requests. Try again in a while."),
        (400, "Invalid schema for response_format",
         "The AI service rejected the request (400 Bad Request): Invalid schema for response_format."),
    ],
)  # fmt: skip
def test_an_error_status_is_named_with_the_services_message(
    chat: ChatServer, status: int, told: str, says: str
) -> None:
    chat.answer(error(status, told))

    assert failure() == says
    assert len(chat.received) == 1  # an error is not a repair matter


def test_an_error_status_without_a_json_body(chat: ChatServer) -> None:
    chat.answer(raw(502, b"<html><body>Bad gateway</body></html>", "text/html"))

    assert failure() == "The AI service failed (502 Bad Gateway). Try again in a while."


def test_an_error_event_inside_the_stream(chat: ChatServer) -> None:
    def answer(handler: Any, server: ChatServer) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        handler.wfile.write(b'data: {"error": {"message": "The model is overloaded."}}\n\n')

    chat.answer(answer)

    assert failure() == "The AI service reported an error: The model is overloaded."


def test_an_answer_past_the_size_cap_is_refused(chat: ChatServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(llm, "MAX_ANSWER_BYTES", 64 * 1024)
    chat.answer(huge_stream(200_000))

    assert failure() == "The AI service's answer is larger than 0.0625 MB, so it was not read."


# --- the pieces -----------------------------------------------------------------------------


def test_the_registry_names_the_llm_generator() -> None:
    assert isinstance(generators.generator("llm"), LlmGenerator)


def test_sse_events_split_across_chunks_and_lines() -> None:
    chunks = [
        b'data: {"a"',
        b": 1}\r\n\r\n: comment\n",
        b"event: x\ndata: one\ndata: two\n\n",
        b"data: [DONE]",
    ]

    assert list(sse_data(chunks)) == ['{"a": 1}', "one\ntwo", "[DONE]"]


def test_the_reply_watcher_waits_for_an_escape_to_finish() -> None:
    shown: list[str] = []
    watcher = ReplyWatcher(shown.append)
    for piece in ['{"bundle": {}, "rep', 'ly": "Caf', "\\u00", 'e9 \\"ok\\', '" done", "questions": []}']:
        watcher.feed(piece)

    assert shown == ["Caf", 'Café "ok', 'Café "ok" done']


def test_read_answer_takes_a_bare_bundle_and_fills_in_the_format() -> None:
    bundle = json.loads(LAUNDRY)["bundle"]
    del bundle["format"]

    reading = read_answer(json.dumps(bundle))

    assert reading.problems == ()
    assert reading.bundle == {**bundle, "format": "ticketflower-bundle/1"}
