using System.Globalization;

namespace ClaudeStack.Stack;

/// <summary>
/// The uid/gid the Claude Code image's <c>node</c> user is built with (<c>USER_UID</c>/<c>USER_GID</c>), so that
/// files Claude Code writes into the mounted workspace belong to the user on the host.
/// </summary>
public sealed record ContainerUser(long UserId, long GroupId)
{
    /// <summary>The image's own default, 1000:1000.</summary>
    public static ContainerUser Default { get; } = new(StackConstants.Defaults.ContainerUserId, StackConstants.Defaults.ContainerGroupId);

    /// <summary>
    /// The user running this process. On Linux the real uid and gid from <c>/proc/self/status</c> (no native
    /// calls, no child process); on macOS and Windows, and when that file cannot be read, <see cref="Default"/>.
    /// There the uid need not match: Docker Desktop's file sharing writes files as the host user whichever uid the
    /// container runs as. It does not make the mount look like the container user's own, though: inside, its files
    /// show owners of their own, which is why the image tells git to trust <c>/workspace</c> whoever owns it.
    /// </summary>
    public static ContainerUser FromProcess()
    {
        if (!OperatingSystem.IsLinux())
        {
            return Default;
        }

        try
        {
            return FromProcStatus(File.ReadAllText("/proc/self/status"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Default;
        }
    }

    /// <summary>
    /// Reads the real uid and gid (the first of the four numbers on the <c>Uid:</c> and <c>Gid:</c> lines) from the
    /// text of <c>/proc/&lt;pid&gt;/status</c>. Falls back to <see cref="Default"/> when a line is missing or
    /// malformed, and when the user is root: the image refuses uid 0, and root can write any file anyway.
    /// </summary>
    public static ContainerUser FromProcStatus(string? status)
    {
        if (status is null)
        {
            return Default;
        }

        long? uid = null, gid = null;
        foreach (var line in status.Split('\n'))
        {
            if (line.StartsWith("Uid:", StringComparison.Ordinal))
            {
                uid = FirstId(line["Uid:".Length..]);
            }
            else if (line.StartsWith("Gid:", StringComparison.Ordinal))
            {
                gid = FirstId(line["Gid:".Length..]);
            }
        }

        return uid is { } u and > 0 && gid is { } g ? new ContainerUser(u, g) : Default;
    }

    /// <summary>Whether <paramref name="id"/> is a uid/gid a Linux image accepts (0 to 4294967294).</summary>
    public static bool IsValidId(long id) => id is >= 0 and <= StackConstants.Defaults.MaximumUserOrGroupId;

    /// <summary>The build argument value of <see cref="UserId"/>.</summary>
    public string UserIdText => UserId.ToString(CultureInfo.InvariantCulture);

    /// <summary>The build argument value of <see cref="GroupId"/>.</summary>
    public string GroupIdText => GroupId.ToString(CultureInfo.InvariantCulture);

    public override string ToString() => $"{UserIdText}:{GroupIdText}";

    private static long? FirstId(string values)
    {
        var first = values.Split(['\t', ' ', '\r'], StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
        return first is not null
            && long.TryParse(first, NumberStyles.None, CultureInfo.InvariantCulture, out var id)
            && IsValidId(id)
                ? id
                : null;
    }
}
