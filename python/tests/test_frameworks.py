"""The real agent frameworks from PyPI drive the connector against the sandbox; no LLM: each
framework's own test model (or a scripted one) calls the tools. Each run lists, reads and sends
mail, and the sandbox's mailbox is checked afterwards."""

from __future__ import annotations

import json
from typing import Any

from agent_connectors import GmailConnector

SEND: dict[str, Any] = {"to": ["Grace <grace@example.com>"], "subject": "Quarterly report", "text": "Attached below."}


def _sent(connector: GmailConnector, subject: str) -> list[dict[str, Any]]:
    assert connector.sandbox is not None
    box = connector.sandbox.mailbox()
    assert box is not None
    return [m for m in box["messages"] if "SENT" in m["label_ids"] and f"Subject: {subject}" in m["raw"]]


async def test_pydantic_ai_agent_with_function_model(gmail: GmailConnector) -> None:
    from pydantic_ai import Agent
    from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
    from pydantic_ai.models.function import AgentInfo, FunctionModel

    @GmailConnector.tool_utils
    async def gmail_execute(entity: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        """Read and send the user's Gmail."""
        return (await gmail.execute(entity, action, params)).to_dict()

    seen_descriptions: list[str] = []

    def script(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        seen_descriptions.append(info.function_tools[0].description or "")
        returns: list[Any] = [p.content for m in messages for p in getattr(m, "parts", []) if isinstance(p, ToolReturnPart)]
        calls = [
            {"entity": "messages", "action": "list", "params": {"max_results": 3}},
            None,  # get: the id comes from the list result
            {"entity": "messages", "action": "send", "params": SEND},
        ]
        step = len(returns)
        if step == 1:
            first_id = returns[0]["result"][0]["id"]
            calls[1] = {"entity": "messages", "action": "get", "params": {"message_id": first_id}}
        if step < len(calls):
            return ModelResponse(parts=[ToolCallPart(tool_name="gmail_execute", args=calls[step])])
        subject = returns[1]["result"]["subject"]
        return ModelResponse(parts=[TextPart(f"read {subject!r}, sent {returns[2]['result']['id']}")])

    agent = Agent(FunctionModel(script), tools=[gmail_execute])
    run = await agent.run("Summarise my newest mail and send Grace the report.")
    assert run.output.startswith("read ")
    # The model saw the catalogue with the paging rules in the tool description.
    assert "next_page_token" in seen_descriptions[0] and "messages" in seen_descriptions[0]
    sent = _sent(gmail, SEND["subject"])
    assert len(sent) == 1 and sent[0]["id"] in run.output
    assert "grace@example.com" in sent[0]["raw"]


async def test_langchain_structured_tools_from_the_tool_definitions(gmail: GmailConnector) -> None:
    from langchain_core.tools import StructuredTool

    def make(definition: dict[str, Any]) -> StructuredTool:
        fn = definition["function"]

        async def run(**params: Any) -> dict[str, Any]:
            return (await gmail.call_tool(fn["name"], params)).to_dict()

        return StructuredTool.from_function(
            coroutine=run, name=fn["name"], description=fn["description"], args_schema=fn["parameters"]
        )

    tools = {t["function"]["name"]: make(t) for t in GmailConnector.tools(format="openai")}
    assert len(tools) == sum(len(GmailConnector.actions(e)) for e in GmailConnector.entities())
    listed = await tools["messages_list"].ainvoke({"max_results": 2})
    assert len(listed["result"]) == 2
    got = await tools["messages_get"].ainvoke({"message_id": listed["result"][1]["id"]})
    assert got["result"]["id"] == listed["result"][1]["id"]
    sent = await tools["messages_send"].ainvoke({**SEND, "subject": "From LangChain"})
    assert [m["id"] for m in _sent(gmail, "From LangChain")] == [sent["result"]["id"]]
    # The schema LangChain hands a model is the action's params schema.
    assert set(tools["messages_list"].args) == set(GmailConnector.schema("messages", "list")["properties"])


async def test_openai_agents_function_tool_run_by_the_runner(gmail: GmailConnector) -> None:
    from agents import Agent, Runner, Usage, function_tool, set_tracing_disabled
    from agents.items import ModelResponse
    from agents.models.interface import Model
    from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText

    set_tracing_disabled(True)

    @GmailConnector.tool_utils
    async def gmail_execute(entity: str, action: str, params: dict[str, Any]) -> str:
        """Read and send the user's Gmail."""
        return json.dumps((await gmail.execute(entity, action, params)).to_dict())

    class Scripted(Model):
        """Stands in for the LLM: list, get the first message, send, then answer."""

        async def get_response(self, system_instructions: Any, input: Any, *args: Any, **kwargs: Any) -> ModelResponse:
            outputs = [
                json.loads(i["output"])
                for i in (input if isinstance(input, list) else [])
                if isinstance(i, dict) and i.get("type") == "function_call_output"
            ]
            step = len(outputs)
            if step == 0:
                call: dict[str, Any] | None = {"entity": "messages", "action": "list", "params": {"max_results": 2}}
            elif step == 1:
                call = {"entity": "messages", "action": "get", "params": {"message_id": outputs[0]["result"][0]["id"]}}
            elif step == 2:
                call = {"entity": "messages", "action": "send", "params": {**SEND, "subject": "From OpenAI Agents"}}
            else:
                call = None
            if call is not None:
                item: Any = ResponseFunctionToolCall(
                    type="function_call", call_id=f"c{step}", name="gmail_execute",
                    arguments=json.dumps(call), id=f"fc{step}", status="completed",
                )
            else:
                text = f"sent {outputs[2]['result']['id']}"
                item = ResponseOutputMessage(
                    id="msg", type="message", role="assistant", status="completed",
                    content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
                )
            return ModelResponse(output=[item], usage=Usage(), response_id=None)

        def stream_response(self, *args: Any, **kwargs: Any) -> Any:
            raise NotImplementedError

    tool = function_tool(gmail_execute, strict_mode=False)
    assert "next_page_token" in tool.description
    assert set(tool.params_json_schema["properties"]) == {"entity", "action", "params"}
    agent = Agent(name="mail", model=Scripted(), tools=[tool])
    run = await Runner.run(agent, "Send Grace the report.")
    sent = _sent(gmail, "From OpenAI Agents")
    assert len(sent) == 1 and run.final_output == f"sent {sent[0]['id']}"

