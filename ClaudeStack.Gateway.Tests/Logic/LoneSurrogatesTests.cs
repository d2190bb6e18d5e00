using System.Text;
using ClaudeStack.Gateway.Requests;

namespace ClaudeStack.Gateway.Tests.Logic;

public sealed class LoneSurrogatesTests
{
    [Theory]
    [InlineData("""{"a":"x\ud83d"}""", """{"a":"x\ufffd"}""", 1)]
    [InlineData("""{"a":"\uDE00 and \uD83D"}""", """{"a":"\ufffd and \ufffd"}""", 2)]
    [InlineData("""{"\ud800":"\ud800\ud800\udc00"}""", """{"\ufffd":"\ufffd\ud800\udc00"}""", 2)]
    // Cut off at the end of the body: the escape is still replaced; the parser reports the rest.
    [InlineData("""{"a":"\ud83d""", """{"a":"\ufffd""", 1)]
    public void UnpairedEscapes_BecomeTheReplacementCharacter(string body, string expected, int replaced)
    {
        var (result, count) = LoneSurrogates.Replace(Encoding.UTF8.GetBytes(body));

        Assert.Equal(expected, Encoding.UTF8.GetString(result.Span));
        Assert.Equal(replaced, count);
    }

    [Theory]
    [InlineData("""{"a":"\ud83d\ude00 \u001b[0m"}""")] // a pair, and an escape that is no surrogate
    [InlineData("""{"a":"C:\\ud800 is a path"}""")] // an escaped backslash, then text that only looks like an escape
    [InlineData("""{"a":"\\\ud83d\ude00"}""")]
    [InlineData("""{"a":"\u12"}""")] // too short: left for the parser to refuse
    [InlineData("""{"a":"no escapes at all"}""")]
    public void EverythingElse_IsTheSameBodyUntouched(string body)
    {
        ReadOnlyMemory<byte> bytes = Encoding.UTF8.GetBytes(body);

        var (result, count) = LoneSurrogates.Replace(bytes);

        Assert.Equal(0, count);
        Assert.True(result.Equals(bytes), "a body without lone surrogates is forwarded as the same buffer, not a copy");
    }

    [Fact]
    public void ParsedRequest_ReadsAndForwardsTheRepairedText()
    {
        var (request, error) = MessagesRequest.Parse(Encoding.UTF8.GetBytes("""{"model":"m","messages":[{"role":"user","content":"cut \ud83d"}]}"""));

        Assert.Null(error);
        using (request)
        {
            Assert.Equal(1, request!.ReplacedLoneSurrogates);
            Assert.Equal("cut \ufffd", request.Messages[0].GetProperty("content").GetString());
            Assert.Contains("cut \\ufffd", Encoding.UTF8.GetString(request.Body.Span), StringComparison.Ordinal);
        }
    }
}
