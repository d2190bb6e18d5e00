namespace ClaudeStack.Stack.Tests;

public class ContainerUserTests
{
    private const string Status = "Name:\tdotnet\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4242\nPid:\t4242\nPPid:\t1\n"
        + "Uid:\t1001\t1002\t1003\t1004\nGid:\t2001\t2002\t2003\t2004\nFDSize:\t256\nGroups:\t27 2001\n";

    [Fact]
    public void ProcStatus_GivesTheRealUidAndGid()
    {
        Assert.Equal(new ContainerUser(1001, 2001), ContainerUser.FromProcStatus(Status));
    }

    [Fact]
    public void ProcStatus_WithWindowsLineEndingsOrSpaces_IsRead()
    {
        Assert.Equal(new ContainerUser(1001, 2001), ContainerUser.FromProcStatus(Status.Replace("\n", "\r\n", StringComparison.Ordinal)));
        Assert.Equal(new ContainerUser(501, 20), ContainerUser.FromProcStatus("Uid:    501 501 501 501\nGid:    20 20 20 20\n"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("Name:\tdotnet\n")]
    [InlineData("Uid:\t1001\t1001\t1001\t1001\n")]
    [InlineData("Gid:\t1001\t1001\t1001\t1001\n")]
    [InlineData("Uid:\tx\t1\t1\t1\nGid:\t1\t1\t1\t1\n")]
    [InlineData("Uid:\t-5\t1\t1\t1\nGid:\t1\t1\t1\t1\n")]
    [InlineData("Uid:\t4294967295\t1\t1\t1\nGid:\t1\t1\t1\t1\n")]
    [InlineData("Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n")]
    public void ProcStatus_MissingMalformedOrRoot_FallsBackTo1000(string? status)
    {
        Assert.Equal(ContainerUser.Default, ContainerUser.FromProcStatus(status));
        Assert.Equal(new ContainerUser(1000, 1000), ContainerUser.Default);
    }

    [Fact]
    public void FromProcess_IsTheCurrentUserOnLinux()
    {
        var user = ContainerUser.FromProcess();

        if (OperatingSystem.IsLinux())
        {
            Assert.Equal(ContainerUser.FromProcStatus(File.ReadAllText("/proc/self/status")), user);
            Assert.True(user.UserId > 0);
        }
        else
        {
            Assert.Equal(ContainerUser.Default, user);
        }
    }

    [Fact]
    public void BuildArgumentText_IsInvariant()
    {
        var user = new ContainerUser(4294967294, 0);

        Assert.Equal("4294967294", user.UserIdText);
        Assert.Equal("0", user.GroupIdText);
        Assert.Equal("4294967294:0", user.ToString());
    }
}
