using ClaudeStack.Gateway.Api;
using Microsoft.Extensions.Primitives;

namespace ClaudeStack.Gateway.Tests.Logic;

public sealed class BrowserOriginGuardTests
{
    [Theory]
    [InlineData(null, true)]
    [InlineData("http://localhost", true)]
    [InlineData("http://localhost:3000", true)]
    [InlineData("https://127.0.0.1:8443", true)]
    [InlineData("http://[::1]:5173", true)]
    [InlineData("http://0.0.0.0:8080", true)]
    [InlineData("HTTP://LocalHost:3000", true)]
    [InlineData("http://model-gateway:8080", false)]
    [InlineData("https://evil.example.com", false)]
    [InlineData("http://localhost.evil.example.com", false)]
    [InlineData("http://localhost:3000.evil.example.com", false)]
    [InlineData("http://user@localhost:3000", false)]
    [InlineData("http://localhost:3000/app", false)]
    [InlineData("ftp://localhost", false)]
    [InlineData("null", false)]
    [InlineData("", false)]
    [InlineData("https://chat.example.com", true)]
    [InlineData("https://team.tools.example.org", true)]
    [InlineData("https://example.org", false)]
    public void Origins_AreTheMachinesTheGatewaysOwnOrConfigured(string? origin, bool allowed)
    {
        var guard = new BrowserOriginGuard(["https://chat.example.com", " https://*.tools.example.org "]);

        // The Host the call was sent to (model-gateway:8080 in a DNS-rebinding attack's page) allows nothing.
        Assert.Equal(allowed, guard.IsAllowed(origin is null ? StringValues.Empty : new StringValues(origin)));
    }

    [Fact]
    public void SeveralOrigins_AreRefused()
    {
        Assert.False(new BrowserOriginGuard([]).IsAllowed(new StringValues(["http://localhost", "https://evil.example.com"])));
    }

    [Theory]
    [InlineData("https://a.b.example.com", "https://*.example.com", true)]
    [InlineData("https://example.com", "https://*.example.com", false)]
    [InlineData("https://a.example.com:8443", "https://*.example.com:*", true)]
    [InlineData("https://a.example.com", "https://*.example.com:*", false)]
    [InlineData("https://x.example.com", "https://*x*.example.com", true)]
    [InlineData("https://a", "https://a*a", false)]
    public void Wildcards_StandForAnyRunOfCharacters(string origin, string pattern, bool matches)
    {
        Assert.Equal(matches, BrowserOriginGuard.Matches(origin, pattern));
    }
}
