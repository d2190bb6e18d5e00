namespace ClaudeStack.Stack.Tests;

public class ModelTests
{
    [Theory]
    [InlineData(new string[0], "llama3.1:8b", "llama3.1:8b", "llama3.1:8b", "llama3.1:8b", "llama3.1:8b")]
    [InlineData(new[] { "Model=qwen3:8b" }, "qwen3:8b", "qwen3:8b", "qwen3:8b", "qwen3:8b", "qwen3:8b")]
    [InlineData(new[] { "ModelMap:Opus=big:70b", "ModelMap:Haiku=small:1b" }, "llama3.1:8b", "big:70b", "llama3.1:8b", "small:1b", "llama3.1:8b")]
    [InlineData(new[] { "ModelMap:Sonnet=mid:14b", "ModelMap:Fable=story:7b" }, "llama3.1:8b", "llama3.1:8b", "mid:14b", "llama3.1:8b", "story:7b")]
    [InlineData(new[] { "Provider=Anthropic" }, null, null, null, null, null)]
    [InlineData(new[] { "Provider=Anthropic", "ModelMap:Haiku=claude-haiku-4-5" }, null, null, null, "claude-haiku-4-5", null)]
    [InlineData(new[] { "Provider=Anthropic", "Model=claude-opus-4-1" }, "claude-opus-4-1", null, null, null, null)]
    public void ModelMap_ResolvesEveryFamily(string[] settings, string? main, string? opus, string? sonnet, string? haiku, string? fable)
    {
        var map = TestConfig.Read(settings).ModelMap;

        Assert.Equal(main, map.Default);
        Assert.Equal(opus, map.For(ModelFamily.Opus));
        Assert.Equal(sonnet, map.For(ModelFamily.Sonnet));
        Assert.Equal(haiku, map.For(ModelFamily.Haiku));
        Assert.Equal(fable, map.For(ModelFamily.Fable));
    }

    [Theory]
    [InlineData("llama3.1:8b", "model-llama3-1-8b")]
    [InlineData("qwen3-coder:30b", "model-qwen3-coder-30b")]
    [InlineData("hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M", "model-hf-co-bartowski-llama-3-2-1b-instruct-gguf-q4-k-m")]
    [InlineData("Gemma3", "model-gemma3")]
    [InlineData("a--b__c", "model-a-b-c")]
    [InlineData("x:", "model-x")]
    public void ModelResourceName_IsKebabCase(string model, string expected)
    {
        Assert.Equal(expected, ModelResourceNames.For(model));
    }

    [Fact]
    public void ModelResourceName_IsAtMost64Characters()
    {
        var name = ModelResourceNames.For(new string('a', 100) + ":latest");

        Assert.Equal(64, name.Length);
        Assert.StartsWith("model-", name, StringComparison.Ordinal);
    }

    [Fact]
    public void ModelResourceNames_DisambiguateCollisions()
    {
        var names = ModelResourceNames.ForAll(["llama3.1:8b", "llama3-1:8b", "llama3_1:8b"]);

        Assert.Equal(["model-llama3-1-8b", "model-llama3-1-8b-2", "model-llama3-1-8b-3"], names.Select(n => n.ResourceName));
    }

    [Fact]
    public void ModelResourceNames_CutForASuffix_NeverHaveTwoHyphensInARow()
    {
        // Aspire refuses a resource name with "--"; a long name cut where the model had a separator would end in one.
        var model = new string('a', 55) + "-" + new string('b', 20);

        var names = ModelResourceNames.ForAll([model, model.Replace('-', '_')]);

        Assert.Equal("model-" + new string('a', 55) + "-2", names[1].ResourceName);
        Assert.All(names, n => Assert.DoesNotContain("--", n.ResourceName, StringComparison.Ordinal));
    }

    [Fact]
    public void ModelsToPull_MainFirstWithoutDuplicates()
    {
        var options = TestConfig.Read("Model=qwen3:8b", "ExtraModels=gemma3:4b,qwen3:8b,nomic-embed-text");

        Assert.Equal(["qwen3:8b", "gemma3:4b", "nomic-embed-text"], options.ModelsToPull);
    }

    [Fact]
    public void ModelsToPull_IncludeEveryMappedModel()
    {
        // A family mapped to a model nobody pulled would answer every call of that family with a 404.
        var options = TestConfig.Read("Model=qwen3:8b", "ModelMap:Haiku=qwen3:1.7b", "ModelMap:Opus=qwen3-coder:30b", "ModelMap:Sonnet=qwen3:8b", "ExtraModels=gemma3:4b,qwen3:1.7b");

        Assert.Equal(["qwen3:8b", "qwen3-coder:30b", "qwen3:1.7b", "gemma3:4b"], options.ModelsToPull);
        Assert.Equal(["qwen3:8b", "qwen3-coder:30b", "qwen3:1.7b"], options.ModelsInUse);
    }

    // The cases Ollama v0.32.15's internal/modelref sorts by the name's last ':' part.
    [Theory]
    [InlineData("gpt-oss:120b-cloud", true)]
    [InlineData("qwen3-coder:480b-CLOUD", true)]
    [InlineData("kimi-k2:cloud", true)]
    [InlineData("kimi-k2: Cloud", true)] // configuration refuses spaces; Ollama trims them
    [InlineData("llama3.1:8b", false)]
    [InlineData("cloud", false)]
    [InlineData("my-cloud", false)]
    [InlineData("qwen3:local", false)]
    [InlineData("registry.example.com:5000/team/model-cloud", false)]
    [InlineData("registry.example.com:5000/team/model:q4-cloud", true)]
    [InlineData("qwen3:local:cloud", false)] // two sources: Ollama refuses the name as invalid
    [InlineData("qwen3:cloud:CLOUD", false)]
    [InlineData("gpt-oss:120b:cloud", true)]
    public void CloudModel_IsRecognisedByItsTag(string model, bool expected)
    {
        Assert.Equal(expected, OllamaCloudModels.IsCloudModel(model));
    }

    [Theory]
    [InlineData("OllamaCloud=true", "Model=gpt-oss:120b-cloud")]
    [InlineData("Provider=External", "External:Url=http://gpu-box:11434", "Model=gpt-oss:120b-cloud")]
    [InlineData("Provider=Anthropic", "Model=gpt-oss:120b-cloud")]
    [InlineData("UseHostOllama=true", "OllamaCloud=true", "Model=gpt-oss:120b-cloud")]
    public void CloudModel_IsAcceptedWhereTheStackDoesNotTurnCloudOff(params string[] settings)
    {
        Assert.Equal("gpt-oss:120b-cloud", TestConfig.Read(settings).Model);
    }
}
