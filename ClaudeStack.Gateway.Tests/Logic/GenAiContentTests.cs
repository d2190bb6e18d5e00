using System.Text;
using System.Text.Json;
using ClaudeStack.Gateway.Streaming;
using ClaudeStack.Gateway.Telemetry;

namespace ClaudeStack.Gateway.Tests.Logic;

/// <summary>
/// Captured content in the GenAI conventions' shape (what the Aspire dashboard's GenAI view renders), written out
/// exactly, for every kind of Anthropic content block.
/// </summary>
public sealed class GenAiContentTests
{
    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement;

    [Fact]
    public void InputMessages_OverTheBudget_KeepTheTaskAndTheNewestMessages()
    {
        // A long session: the task, then 60 turns of ~100 KB each (6 MB), then the turn the model is answering.
        var turns = Enumerable.Range(0, 60).Select(index => new
        {
            role = index % 2 == 0 ? "assistant" : "user",
            content = $"turn-{index} " + new string('t', 100 * 1024),
        });
        var messages = JsonSerializer.SerializeToElement(
            new[] { new { role = "user", content = "the task" } }.Concat(turns).Append(new { role = "user", content = "latest" }));

        var written = GenAiContent.InputMessages(messages);

        Assert.InRange(Encoding.UTF8.GetByteCount(written), 1, GenAiContent.MaxInputMessagesBytes);
        var recorded = Json(written).EnumerateArray()
            .Select(m => (Role: m.GetProperty("role").GetString(), Text: m.GetProperty("parts")[0].GetProperty("content").GetString()!))
            .ToList();
        Assert.Equal(("user", "the task"), recorded[0]);
        Assert.Equal("system", recorded[1].Role);
        var kept = recorded.Count - 3;
        Assert.StartsWith($"[{60 - kept} earlier messages (", recorded[1].Text, StringComparison.Ordinal);
        Assert.Contains("not recorded", recorded[1].Text, StringComparison.Ordinal);
        // The messages kept are the newest, in order, up to the one the model answers.
        Assert.InRange(kept, 18, 20);
        Assert.Equal(
            Enumerable.Range(60 - kept, kept).Select(index => $"turn-{index} "),
            recorded.Skip(2).SkipLast(1).Select(m => m.Text[..(m.Text.IndexOf(' ', StringComparison.Ordinal) + 1)]));
        Assert.Equal(("user", "latest"), recorded[^1]);
    }

    [Fact]
    public void InputMessages_WithinTheBudget_AreAllRecorded()
    {
        var messages = JsonSerializer.SerializeToElement(
            Enumerable.Range(0, 10).Select(index => new { role = "user", content = $"turn-{index} " + new string('t', 100 * 1024) }));

        var recorded = Json(GenAiContent.InputMessages(messages)).EnumerateArray().ToList();

        Assert.Equal(10, recorded.Count);
        Assert.All(recorded, m => Assert.Equal("user", m.GetProperty("role").GetString()));
    }

    [Fact]
    public void InputMessages_OneMessageOfManyLargeParts_IsCutShort()
    {
        // 40 tool results of 100 KB in the one message the model answers (parallel reads of large files).
        var results = Enumerable.Range(0, 40).Select(index => new
        {
            type = "tool_result",
            tool_use_id = $"toolu_{index}",
            content = new string('r', 100 * 1024),
        });
        var messages = JsonSerializer.SerializeToElement(new[] { new { role = "user", content = results.ToArray() } });

        var written = GenAiContent.InputMessages(messages);

        // The budget (and the quarter over it that the parts' wrapping may take), crossed by one part at most.
        Assert.InRange(Encoding.UTF8.GetByteCount(written), 1, (GenAiContent.MaxInputMessagesBytes * 5 / 4) + (100 * 1024) + 1024);
        var parts = Json(written)[0].GetProperty("parts").EnumerateArray().ToList();
        Assert.InRange(parts.Count, 10, 39);
        Assert.Equal("tool_call_response", parts[0].GetProperty("type").GetString());
        Assert.Equal($"[{40 - (parts.Count - 1)} more parts of this message not recorded: a span keeps its input messages under 2 MB]", parts[^1].GetProperty("content").GetString());
    }

    [Fact]
    public void InputMessages_MapEveryAnthropicBlockToAGenAiPart()
    {
        var messages = Json("""
            [
              {"role":"user","content":"Hi <there> & \"you\""},
              {"role":"assistant","content":[
                {"type":"thinking","thinking":"Plan","signature":"sig"},
                {"type":"redacted_thinking","data":"opaque"},
                {"type":"text","text":"Running ls"},
                {"type":"tool_use","id":"toolu_1","name":"Bash","input":{"command":"ls -la","n":[1,2.5,true,null]}}
              ]},
              {"role":"user","content":[
                {"type":"tool_result","tool_use_id":"toolu_1","content":"a.txt"},
                {"type":"tool_result","tool_use_id":"toolu_2","content":[{"type":"text","text":"one"},{"type":"image"}]},
                {"type":"tool_result","tool_use_id":"toolu_3"},
                {"type":"image","source":{"type":"base64","data":"AAAA"}},
                {"type":"document","source":{}},
                {"type":"container_upload","file_id":"f1"}
              ]}
            ]
            """);

        Assert.Equal(
            """[{"role":"user","parts":[{"type":"text","content":"Hi <there> & \"you\""}]},""" +
            """{"role":"assistant","parts":[{"type":"reasoning","content":"Plan"},{"type":"text","content":"Running ls"},""" +
            """{"type":"tool_call","id":"toolu_1","name":"Bash","arguments":{"command":"ls -la","n":[1,2.5,true,null]}}]},""" +
            """{"role":"user","parts":[{"type":"tool_call_response","id":"toolu_1","response":"a.txt"},""" +
            """{"type":"tool_call_response","id":"toolu_2","response":"one\n[image]"},""" +
            """{"type":"tool_call_response","id":"toolu_3","response":""}]},""" +
            """{"role":"user","parts":[{"type":"image"},{"type":"blob","mime_type":null,"modality":"image","content":"AAAA"},{"type":"document","source":{}},""" +
            """{"type":"container_upload","file_id":"f1"}]}]""",
            GenAiContent.InputMessages(messages));
    }

    [Fact]
    public void InputMessages_BlockLargerThanAPart_WithoutAPartOfItsOwn_IsCutAsText()
    {
        var messages = Json(JsonSerializer.Serialize(new[]
        {
            new { role = "user", content = new object[] { new { type = "search_result", title = new string('t', GenAiContent.MaxPartChars) } } },
        }));

        using var captured = JsonDocument.Parse(GenAiContent.InputMessages(messages));

        var part = captured.RootElement[0].GetProperty("parts")[0];
        Assert.Equal("text", part.GetProperty("type").GetString());
        Assert.StartsWith("{\"type\":\"search_result\",\"title\":\"ttt", part.GetProperty("content").GetString());
    }

    [Fact]
    public void InputMessages_ImagesAndDocuments_BecomeBlobUriFileOrTextParts()
    {
        // The dashboard shows a blob of an image type as the image and offers other blobs for download.
        var messages = Json("""
            [{"role":"user","content":[
              {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},
              {"type":"image","source":{"type":"url","url":"https://example.com/cat.png"}},
              {"type":"image","source":{"type":"url","url":"https://example.com/render?id=7"}},
              {"type":"document","source":{"type":"url","url":"https://example.com/Spec.PDF?download=1"}},
              {"type":"image","source":{"type":"file","file_id":"file_011"}},
              {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0x"},"title":"spec"},
              {"type":"document","source":{"type":"text","media_type":"text/plain","data":"plain words"}},
              {"type":"document","source":{"type":"content","content":[{"type":"text","text":"a"}]}}
            ]}]
            """);

        Assert.Equal(
            """[{"role":"user","parts":[""" +
            """{"type":"blob","mime_type":"image/png","modality":"image","content":"iVBORw0KGgo="},""" +
            """{"type":"uri","mime_type":"image/png","modality":"image","uri":"https://example.com/cat.png"},""" +
            """{"type":"uri","mime_type":null,"modality":"image","uri":"https://example.com/render?id=7"},""" +
            """{"type":"uri","mime_type":"application/pdf","modality":"document","uri":"https://example.com/Spec.PDF?download=1"},""" +
            """{"type":"file","mime_type":null,"modality":"image","file_id":"file_011"},""" +
            """{"type":"blob","mime_type":"application/pdf","modality":"document","content":"JVBERi0x"},""" +
            """{"type":"text","content":"plain words"},""" +
            """{"type":"document","source":{"type":"content","content":[{"type":"text","text":"a"}]}}]}]""",
            GenAiContent.InputMessages(messages));
    }

    [Fact]
    public void InputMessages_ImageLargerThanAPart_IsANoteOfItsTypeAndSize()
    {
        // Every later call of the conversation repeats the image: it is recorded only as large as any other part.
        var data = new string('A', GenAiContent.MaxPartChars + 4);
        var messages = Json(JsonSerializer.Serialize(new[]
        {
            new { role = "user", content = new object[] { new { type = "image", source = new { type = "base64", media_type = "image/jpeg", data } } } },
        }));

        Assert.Equal(
            """[{"role":"user","parts":[{"type":"text","content":"[image/jpeg image, 96 KB, too large to record]"}]}]""",
            GenAiContent.InputMessages(messages));
    }

    [Fact]
    public void InputMessages_ToolUseWithoutIdNameOrInput_WritesNulls()
    {
        var messages = Json("""[{"role":"assistant","content":[{"type":"tool_use"}]}]""");

        Assert.Equal(
            """[{"role":"assistant","parts":[{"type":"tool_call","id":null,"name":null,"arguments":null}]}]""",
            GenAiContent.InputMessages(messages));
    }

    [Theory]
    [InlineData("""[{"content":"no role"}]""", typeof(KeyNotFoundException))]
    [InlineData("""[{"role":"user","content":7}]""", typeof(InvalidOperationException))]
    [InlineData("""[{"role":"user","content":[{"type":"text","text":3}]}]""", typeof(InvalidOperationException))]
    [InlineData("""[{"role":"user","content":"half \ud800 a pair"}]""", typeof(InvalidOperationException))]
    public void InputMessages_ThatCannotBeRead_Throw(string json, Type expected)
    {
        // The caller logs these and records no content; the call itself goes on.
        Assert.Throws(expected, () => GenAiContent.InputMessages(Json(json)));
    }

    [Fact]
    public void InputMessages_AfterAFailure_StartFromAnEmptyDocument()
    {
        Assert.ThrowsAny<Exception>(() => GenAiContent.InputMessages(Json("""[{"role":"user","content":[{"type":"text","text":3}]}]""")));

        Assert.Equal("""[{"role":"user","parts":[{"type":"text","content":"ok"}]}]""", GenAiContent.InputMessages(Json("""[{"role":"user","content":"ok"}]""")));
    }

    [Fact]
    public void RequestStringsAndValues_AreCopiedAsTheClientEscapedThem()
    {
        // Copying costs a tenth of reading and escaping again; the dashboard reads either spelling alike.
        var messages = Json("""
            [{"role":"user","content":[
              {"type":"text","text":"a\/b\tc"},
              {"type":"tool_use","id":"t","name":"Bash","input":{ "command" : "ls\/" }},
              {"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"x\/y"}]}
            ]}]
            """);

        Assert.Equal(
            """[{"role":"user","parts":[{"type":"tool_call_response","id":"t","response":"x\/y"}]},""" +
            """{"role":"user","parts":[{"type":"text","content":"a\/b\tc"},{"type":"tool_call","id":"t","name":"Bash","arguments":{ "command" : "ls\/" }}]}]""",
            GenAiContent.InputMessages(messages));
    }

    [Fact]
    public void ToolResultsBesideOtherBlocks_AreAMessageOfTheirOwn_TheirImagesShownInTheNext()
    {
        // Aspire 13.5.2's dashboard titles a message "Tool" only when all its parts are results, and shows a result as
        // text; Claude Code puts a system reminder beside the results, and a screenshot tool returns an image.
        var messages = Json("""
            [{"role":"user","content":[
              {"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"shot"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}]},
              {"type":"text","text":"<system-reminder>todo list is empty</system-reminder>"}
            ]},
            {"role":"user","content":[
              {"type":"tool_result","tool_use_id":"toolu_2","content":"a.txt"},
              {"type":"tool_result","tool_use_id":"toolu_3","content":"b.txt"}
            ]},
            {"role":"user","content":[
              {"type":"tool_result","tool_use_id":"toolu_4","content":[{"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"/9j/"}}]}
            ]}]
            """);

        Assert.Equal(
            """[{"role":"user","parts":[{"type":"tool_call_response","id":"toolu_1","response":"shot\n[image]"}]},""" +
            """{"role":"user","parts":[{"type":"blob","mime_type":"image/png","modality":"image","content":"iVBORw0KGgo="},""" +
            """{"type":"text","content":"<system-reminder>todo list is empty</system-reminder>"}]},""" +
            """{"role":"user","parts":[{"type":"tool_call_response","id":"toolu_2","response":"a.txt"},{"type":"tool_call_response","id":"toolu_3","response":"b.txt"}]},""" +
            """{"role":"user","parts":[{"type":"tool_call_response","id":"toolu_4","response":"[image]"}]},""" +
            """{"role":"user","parts":[{"type":"blob","mime_type":"image/jpeg","modality":"image","content":"/9j/"}]}]""",
            GenAiContent.InputMessages(messages));
    }

    [Fact]
    public void ToolDefinitions_WhatTheDashboardCannotRead_IsLeftOutOfThatToolAlone()
    {
        // Aspire 13.5.2 reads a tool's name, and a schema's description and required entries, as strings: one of another
        // kind throws, and the span's whole Tools list is gone.
        var tools = Json("""
            [
              {"name":7,"description":"numbered","input_schema":{"type":"object"}},
              {"name":"a","input_schema":{"type":"object","description":{"text":"x"}}},
              {"name":"b","input_schema":{"type":"object","properties":{"p":{"type":"array","items":{"type":"object","required":[1]}}}}},
              {"name":"c","input_schema":{"type":"object","description":null,"properties":{"q":{"type":"string","description":"fine"}},"required":["q",null]}}
            ]
            """);

        Assert.Equal(
            """[{"type":"function","description":"numbered","parameters":{"type":"object"}},{"type":"function","name":"a"},{"type":"function","name":"b"},""" +
            """{"type":"function","name":"c","parameters":{"type":"object","description":null,"properties":{"q":{"type":"string","description":"fine"}},"required":["q",null]}}]""",
            GenAiContent.ToolDefinitions(tools));
    }

    [Fact]
    public void UnicodeEscapes_AreWrittenAsTheCharacters_SoAnEscapedSecretIsMasked()
    {
        var secret = "sk-ant-0123456789";
        var messages = Json("""[{"role":"user","content":[{"type":"text","text":"key \u0073k-ant-0123456789"},{"type":"tool_use","id":"t","name":"Bash","input":{"k":"\u0073k-ant-0123456789"}}]}]""");

        var captured = new SecretRedactor([secret]).Redact(GenAiContent.InputMessages(messages));

        Assert.Equal(
            """[{"role":"user","parts":[{"type":"text","content":"key [REDACTED]"},{"type":"tool_call","id":"t","name":"Bash","arguments":{"k":"[REDACTED]"}}]}]""",
            captured);
    }

    [Fact]
    public void LongText_IsCutAtTheLimitAndMarked()
    {
        var text = new string('a', GenAiContent.MaxPartChars + 10);
        var messages = Json(JsonSerializer.Serialize(new[] { new { role = "user", content = text } }));

        using var captured = JsonDocument.Parse(GenAiContent.InputMessages(messages));

        var content = captured.RootElement[0].GetProperty("parts")[0].GetProperty("content").GetString()!;
        Assert.Equal(new string('a', GenAiContent.MaxPartChars) + "…[truncated]", content);
    }

    [Fact]
    public void SystemInstructions_AcceptTheStringAndTheBlockForm()
    {
        Assert.Equal("""[{"type":"text","content":"Be brief."}]""", GenAiContent.SystemInstructions(Json("\"Be brief.\"")));
        Assert.Equal(
            """[{"type":"text","content":"One"},{"type":"text","content":"Two"}]""",
            GenAiContent.SystemInstructions(Json("""[{"type":"text","text":"One"},{"type":"text","cache_control":{}},{"type":"text","text":"Two"}]""")));
        // Nothing to show is no attribute, rather than an empty System entry in the dashboard.
        Assert.Null(GenAiContent.SystemInstructions(Json("42")));
        Assert.Null(GenAiContent.SystemInstructions(Json("""[{"type":"text","cache_control":{}}]""")));
    }

    [Fact]
    public void OutputMessages_CarryPartsAndFinishReason()
    {
        var response = new ModelResponse { StopReason = "tool_use" };
        response.Blocks.Add(Block(0, "thinking", "Let me look"));
        response.Blocks.Add(Block(1, "text", "Listing files"));
        response.Blocks.Add(Block(2, "tool_use", """{"command":"ls"}""", id: "toolu_9", name: "Bash"));
        response.Blocks.Add(Block(3, "tool_use", """{"command":"l""", id: "toolu_10", name: "Bash"));
        response.Blocks.Add(Block(4, "tool_use", "", id: "toolu_11", name: "Glob"));

        Assert.Equal(
            """[{"role":"assistant","parts":[{"type":"reasoning","content":"Let me look"},{"type":"text","content":"Listing files"},""" +
            """{"type":"tool_call","id":"toolu_9","name":"Bash","arguments":{"command":"ls"}},""" +
            """{"type":"tool_call","id":"toolu_10","name":"Bash","arguments":"{\"command\":\"l"},""" +
            """{"type":"tool_call","id":"toolu_11","name":"Glob","arguments":{}}],"finish_reason":"tool_call"}]""",
            GenAiContent.OutputMessages(response));
    }

    [Theory]
    [InlineData(false, "error")]
    [InlineData(true, "stop")]
    public void OutputMessages_WithoutStopReason_StillHaveTheRequiredFinishReason(bool completed, string expected)
    {
        // A stream cut short has no stop_reason; a whole answer may simply lack one.
        var response = new ModelResponse { Completed = completed };
        response.Blocks.Add(Block(0, "text", "cut off"));

        Assert.Equal($$"""[{"role":"assistant","parts":[{"type":"text","content":"cut off"}],"finish_reason":"{{expected}}"}]""", GenAiContent.OutputMessages(response));
    }

    [Fact]
    public void OutputMessages_RedactedThinking_IsLeftOutAsInTheInput()
    {
        // Its data is encrypted; an empty text part in its place would be a part of the wrong type saying nothing.
        var response = new ModelResponse { StopReason = "end_turn" };
        response.Blocks.Add(Block(0, "redacted_thinking", ""));
        response.Blocks.Add(Block(1, "text", "Done"));

        Assert.Equal(
            """[{"role":"assistant","parts":[{"type":"text","content":"Done"}],"finish_reason":"stop"}]""",
            GenAiContent.OutputMessages(response));
    }

    [Fact]
    public void InputMessages_ServerToolUseAndItsResult_BecomeServerToolParts()
    {
        // Tools the upstream runs itself (Claude Code's WebSearch is Anthropic's web_search): the dashboard shows these
        // as tool calls and their results, not as JSON text.
        var messages = Json("""
            [{"role":"assistant","content":[
              {"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"otel"}},
              {"type":"web_search_tool_result","tool_use_id":"srvtoolu_1","content":[{"type":"web_search_result","url":"https://opentelemetry.io","title":"OTel"}]},
              {"type":"mcp_tool_use","id":"mcptoolu_1","name":"echo","server_name":"s","input":{}},
              {"type":"mcp_tool_result","tool_use_id":"mcptoolu_1","is_error":false,"content":[{"type":"text","text":"hi"}]}
            ]}]
            """);

        Assert.Equal(
            """[{"role":"assistant","parts":[""" +
            """{"type":"server_tool_call","id":"srvtoolu_1","name":"web_search","server_tool_call":{"type":"web_search","input":{"query":"otel"}}},""" +
            """{"type":"server_tool_call_response","id":"srvtoolu_1","server_tool_call_response":{"type":"web_search_tool_result","content":[{"type":"web_search_result","url":"https://opentelemetry.io","title":"OTel"}]}},""" +
            """{"type":"server_tool_call","id":"mcptoolu_1","name":"echo","server_tool_call":{"type":"echo","input":{}}},""" +
            """{"type":"server_tool_call_response","id":"mcptoolu_1","server_tool_call_response":{"type":"mcp_tool_result","content":[{"type":"text","text":"hi"}]}}]}]""",
            GenAiContent.InputMessages(messages));
    }

    [Fact]
    public void InputMessages_ServerToolResultLargerThanAPart_IsCutAsText()
    {
        var page = new string('p', GenAiContent.MaxPartChars);
        var messages = Json(JsonSerializer.Serialize(new[]
        {
            new { role = "assistant", content = new object[] { new { type = "web_fetch_tool_result", tool_use_id = "srvtoolu_2", content = new { type = "web_fetch_result", text = page } } } },
        }));

        using var captured = JsonDocument.Parse(GenAiContent.InputMessages(messages));

        var result = captured.RootElement[0].GetProperty("parts")[0].GetProperty("server_tool_call_response").GetProperty("content").GetString()!;
        Assert.StartsWith("{\"type\":\"web_fetch_result\",\"text\":\"ppp", result);
        Assert.EndsWith("…[truncated]", result);
    }

    [Fact]
    public void OutputMessages_StreamedServerToolUseAndResult_BecomeServerToolParts()
    {
        var observer = new MessageStreamObserver(keepText: true);
        observer.Observe(Encoding.UTF8.GetBytes(
            Event("content_block_start", """{"type":"content_block_start","index":0,"content_block":{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{}}}""") +
            Event("content_block_delta", """{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"query\": \"otel\"}"}}""") +
            Event("content_block_stop", """{"type":"content_block_stop","index":0}""") +
            Event("content_block_start", """{"type":"content_block_start","index":1,"content_block":{"type":"web_search_tool_result","tool_use_id":"srvtoolu_1","content":[{"type":"web_search_result","url":"https://opentelemetry.io"}]}}""") +
            Event("content_block_stop", """{"type":"content_block_stop","index":1}""") +
            Event("message_delta", """{"type":"message_delta","delta":{"stop_reason":"end_turn"}}""")));

        Assert.Equal(
            """[{"role":"assistant","parts":[""" +
            """{"type":"server_tool_call","id":"srvtoolu_1","name":"web_search","server_tool_call":{"type":"web_search","input":{"query": "otel"}}},""" +
            """{"type":"server_tool_call_response","id":"srvtoolu_1","server_tool_call_response":{"type":"web_search_tool_result","content":[{"type":"web_search_result","url":"https://opentelemetry.io"}]}}]""" +
            ""","finish_reason":"stop"}]""",
            GenAiContent.OutputMessages(observer.Response));
    }

    [Fact]
    public void StreamObserver_WithoutContentCapture_KeepsNoServerToolResult()
    {
        var observer = new MessageStreamObserver(keepText: false);
        observer.Observe(Encoding.UTF8.GetBytes(Event("content_block_start", """{"type":"content_block_start","index":0,"content_block":{"type":"web_search_tool_result","tool_use_id":"srvtoolu_1","content":[]}}""")));

        var block = Assert.Single(observer.Response.Blocks);
        Assert.Equal(("srvtoolu_1", 0), (block.ToolUseId, block.Content.Length));
    }

    [Fact]
    public void OutputMessages_WholeAnswerWithServerToolUseAndResult_BecomeServerToolParts()
    {
        var response = ModelResponseReader.Read("""
            {"type":"message","stop_reason":"end_turn","content":[
              {"type":"server_tool_use","id":"srvtoolu_3","name":"web_search","input":{"query":"q"}},
              {"type":"web_search_tool_result","tool_use_id":"srvtoolu_3","content":{"type":"web_search_tool_result_error","error_code":"max_uses_exceeded"}}
            ]}
            """u8);

        Assert.Equal(
            """[{"role":"assistant","parts":[""" +
            """{"type":"server_tool_call","id":"srvtoolu_3","name":"web_search","server_tool_call":{"type":"web_search","input":{"query":"q"}}},""" +
            """{"type":"server_tool_call_response","id":"srvtoolu_3","server_tool_call_response":{"type":"web_search_tool_result","content":{"type":"web_search_tool_result_error","error_code":"max_uses_exceeded"}}}]""" +
            ""","finish_reason":"stop"}]""",
            GenAiContent.OutputMessages(response));
    }

    [Fact]
    public void OutputMessages_ToolInputOfSeveralJsonValues_IsKeptAsText()
    {
        var response = new ModelResponse { StopReason = "tool_use" };
        response.Blocks.Add(Block(0, "tool_use", "{} {}", id: "t", name: "Bash"));

        Assert.Equal(
            """[{"role":"assistant","parts":[{"type":"tool_call","id":"t","name":"Bash","arguments":"{} {}"}],"finish_reason":"tool_call"}]""",
            GenAiContent.OutputMessages(response));
    }

    [Fact]
    public void ToolDefinitions_BecomeFunctionsWithTheirSchemas()
    {
        var tools = Json("""
            [
              {"name":"Bash","description":"Runs a command","input_schema":{"type":"object","properties":{"command":{"type":"string"}},"required":["command"]}},
              {"name":"Nameless","description":7},
              "not a tool",
              {"type":"web_search_20250305","name":"web_search","max_uses":5}
            ]
            """);

        Assert.Equal(
            """[{"type":"function","name":"Bash","description":"Runs a command","parameters":{"type":"object","properties":{"command":{"type":"string"}},"required":["command"]}},""" +
            """{"type":"function","name":"Nameless"},{"type":"function","name":"web_search"}]""",
            GenAiContent.ToolDefinitions(tools));
    }

    [Fact]
    public void InputMessages_AFailedToolResult_SaysSoInItsResponse()
    {
        // The part has no field for is_error; without the mark the dashboard would show a failure as a success.
        var messages = Json("""
            [{"role":"user","content":[
              {"type":"tool_result","tool_use_id":"t1","content":"Permission denied","is_error":true},
              {"type":"tool_result","tool_use_id":"t2","content":[{"type":"text","text":"Exit code 1"},{"type":"text","text":"no such file"}],"is_error":true},
              {"type":"tool_result","tool_use_id":"t3","is_error":true},
              {"type":"tool_result","tool_use_id":"t4","content":"fine","is_error":false}
            ]}]
            """);

        Assert.Equal(
            """[{"role":"user","parts":[{"type":"tool_call_response","id":"t1","response":"[tool error] Permission denied"},""" +
            """{"type":"tool_call_response","id":"t2","response":"[tool error] Exit code 1\nno such file"},""" +
            """{"type":"tool_call_response","id":"t3","response":"[tool error] "},""" +
            """{"type":"tool_call_response","id":"t4","response":"fine"}]}]""",
            GenAiContent.InputMessages(messages));
    }

    [Fact]
    public void ASpanOfTheLargestContent_StaysUnderWhatTheDashboardAccepts()
    {
        // Every attribute at its worst at once: a long session, a huge system prompt, hundreds of MCP tools, and an
        // answer of many parts, one of them a whole (non-streamed) tool call writing a 5 MB file.
        var large = new string('c', GenAiContent.MaxPartChars);
        var system = JsonSerializer.SerializeToElement(Enumerable.Range(0, 20).Select(_ => new { type = "text", text = large }));
        var tools = JsonSerializer.SerializeToElement(Enumerable.Range(0, 600).Select(index => new
        {
            name = $"mcp__server__tool_{index}",
            description = new string('d', 2000),
            input_schema = new { type = "object", properties = new { query = new { type = "string", description = new string('q', 1000) } } },
        }));
        var messages = JsonSerializer.SerializeToElement(Enumerable.Range(0, 80).Select(index => new { role = index % 2 == 0 ? "user" : "assistant", content = large }));
        var answer = ModelResponseReader.Read(JsonSerializer.SerializeToUtf8Bytes(new
        {
            type = "message",
            id = "msg_1",
            model = "m",
            stop_reason = "tool_use",
            content = Enumerable.Range(0, 10).Select(_ => (object)new { type = "text", text = large })
                .Append(new { type = "tool_use", id = "toolu_1", name = "Write", input = new { file_path = "/a", content = new string('x', 5 * 1024 * 1024) } }),
        }));

        string[] attributes =
        [
            GenAiContent.SystemInstructions(system)!,
            GenAiContent.ToolDefinitions(tools),
            GenAiContent.InputMessages(messages),
            GenAiContent.OutputMessages(answer),
        ];

        // Room is left for the span's other attributes and the export request's own framing.
        Assert.InRange(attributes.Sum(attribute => (long)Encoding.UTF8.GetByteCount(attribute)), 1, 3_700_000);
        // Text written again outgrows what the budget measured: an emoji escaped as two \u escapes is three times
        // its bytes (a tool result of colored output, which JSON writers send with \u001b).
        var colored = "\\u001b[31m" + string.Concat(Enumerable.Repeat("😀", 30_000));
        var emoji = Json("[" + string.Join(",", Enumerable.Range(0, 16).Select(index => $$"""{"role":"{{(index % 2 == 0 ? "user" : "assistant")}}","content":"{{colored}}"}""")) + "]");
        Assert.InRange(Encoding.UTF8.GetByteCount(emoji.GetRawText()), 1, GenAiContent.MaxInputMessagesBytes);
        Assert.InRange(Encoding.UTF8.GetByteCount(GenAiContent.InputMessages(emoji)), 1, (GenAiContent.MaxInputMessagesBytes * 5 / 4) + (512 * 1024));
        Assert.EndsWith("KB]\"}]", attributes[0], StringComparison.Ordinal);
        Assert.Contains("more tools not recorded", Json(attributes[1]).EnumerateArray().Last().GetProperty("name").GetString(), StringComparison.Ordinal);
        Assert.Contains("more parts of the answer not recorded", attributes[3], StringComparison.Ordinal);
    }

    [Fact]
    public void OutputMessages_WholeAnswerToolInputLargerThanAPart_IsCutAsText()
    {
        // A whole answer keeps a tool's input whole (a Write of a 5 MB file); a streamed one is cut as it arrives.
        var response = ModelResponseReader.Read(JsonSerializer.SerializeToUtf8Bytes(new
        {
            type = "message",
            id = "msg_1",
            model = "m",
            stop_reason = "tool_use",
            content = new object[] { new { type = "tool_use", id = "toolu_1", name = "Write", input = new { file_path = "/a", content = new string('x', 5 * 1024 * 1024) } } },
        }));

        var arguments = Json(GenAiContent.OutputMessages(response))[0].GetProperty("parts")[0].GetProperty("arguments");

        Assert.Equal(JsonValueKind.String, arguments.ValueKind);
        Assert.Equal(GenAiContent.MaxPartChars + "…[truncated]".Length, arguments.GetString()!.Length);
    }

    [Fact]
    public void ToolDefinitions_ASchemaLargerThanAPart_IsLeftOutAndTheToolKept()
    {
        var tools = JsonSerializer.SerializeToElement(new[]
        {
            new { name = "huge", description = "A generated schema", input_schema = (object)new { type = "object", description = new string('s', GenAiContent.MaxPartChars) } },
        });

        Assert.Equal("""[{"type":"function","name":"huge","description":"A generated schema"}]""", GenAiContent.ToolDefinitions(tools));
    }

    [Fact]
    public void InputMessages_AnEmptyArrayPaddedPastTheBudget_IsNoMessages()
    {
        // Valid JSON that only whitespace makes larger than the budget: nothing to leave out, and nothing to fail on.
        Assert.Equal("[]", GenAiContent.InputMessages(Json("[" + new string(' ', GenAiContent.MaxInputMessagesBytes + 1) + "]")));
    }

    [Fact]
    public void InputMessages_AMessageWithoutParts_IsAnEmptyText()
    {
        // With no parts at all the dashboard would list it as a tool's message.
        Assert.Equal(
            """[{"role":"user","parts":[{"type":"text","content":""}]}]""",
            GenAiContent.InputMessages(Json("""[{"role":"user","content":[]}]""")));
    }

    [Theory]
    [InlineData("text")]
    [InlineData("tool_result")]
    [InlineData("output")]
    public void ACut_NeverKeepsTheStartOfASecret(string where)
    {
        // A key pasted so that the part's limit falls inside it: masking the cut text could no longer recognize it.
        const string Secret = "sk-ant-api03-0123456789abcdefghij";
        var text = new string('a', GenAiContent.MaxPartChars - 20) + Secret + " and more";
        var redactor = new SecretRedactor([Secret]);
        var response = new ModelResponse { StopReason = "end_turn" };
        response.Blocks.Add(Block(0, "text", text));

        var captured = where switch
        {
            "text" => GenAiContent.InputMessages(JsonSerializer.SerializeToElement(new[] { new { role = "user", content = text } }), redactor),
            "tool_result" => GenAiContent.InputMessages(JsonSerializer.SerializeToElement(new[] { new { role = "user", content = new object[] { new { type = "tool_result", tool_use_id = "t", content = new object[] { new { type = "text", text }, new { type = "image" } } } } } }), redactor),
            _ => GenAiContent.OutputMessages(response, redactor),
        };

        Assert.DoesNotContain(Secret[..8], captured, StringComparison.Ordinal);
        Assert.Contains(SecretRedactor.Mask, captured, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("end_turn", "stop")]
    [InlineData("stop_sequence", "stop")]
    [InlineData("max_tokens", "length")]
    [InlineData("model_context_window_exceeded", "length")]
    [InlineData("tool_use", "tool_call")]
    [InlineData("refusal", "content_filter")]
    [InlineData("pause_turn", "pause_turn")]
    public void FinishReason_IsInTheConventionsWordsWhereTheyHaveOne(string stopReason, string expected)
    {
        Assert.Equal(expected, FinishReason.FromStopReason(stopReason));
    }

    private static string Event(string name, string data) => $"event: {name}\ndata: {data}\n\n";

    private static ObservedBlock Block(int index, string type, string content, string? id = null, string? name = null)
    {
        var block = new ObservedBlock { Index = index, Type = type, ToolUseId = id, ToolName = name };
        block.Content.Append(content);
        return block;
    }
}
