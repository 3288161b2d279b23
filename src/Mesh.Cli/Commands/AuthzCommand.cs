using System.CommandLine;
using Mesh.Sdk;

namespace Mesh.Cli;

/// <summary><c>authz check CALLER SERVICE METHOD PATH</c>: would the caller be let in, by which rule. Exit 0 allowed, 1 denied.</summary>
internal static class AuthzCommand
{
    public static void Add(RootCommand root, Runner run)
    {
        var caller = new Argument<string>("CALLER") { Description = "A service name, a SPIFFE ID, or 'unauthenticated'." };
        var service = new Argument<string>("SERVICE") { Description = "The called service." };
        var method = new Argument<string>("METHOD") { Description = "The HTTP method, such as GET." };
        var path = new Argument<string>("PATH") { Description = "The path as the server routes it, such as /charges." };
        var meshDefault = new Option<string?>("--mesh-default") { Description = "The Mesh:Authorization:Default the service's servers run with (allow, authenticated or deny; default allow)." };
        var check = new Command("check", "Would CALLER be allowed METHOD PATH on SERVICE under its stored policy? Exit 0 allowed, 1 denied.") { caller, service, method, path, meshDefault };
        run.Action(check, async (p, x, ct) =>
        {
            var decision = await x.Meshd.CheckAuthorizationAsync(
                new AuthorizationQuestion(p.GetValue(service)!, p.GetValue(caller)!, p.GetValue(method)!, p.GetValue(path)!, p.GetValue(meshDefault)), ct).ConfigureAwait(false);
            if (x.Table)
            {
                var version = decision.PolicyVersion is { } v ? $"policy v{v}" : "no policy";
                x.Out.WriteLine($"{(decision.Allowed ? "ALLOWED" : "DENIED")}: {decision.Caller} → {decision.Service} {decision.Method} {decision.Path} by rule {decision.Rule} ({version})");
            }
            else
            {
                Output.Document(x.Out, x.Format, decision);
            }

            return decision.Allowed ? Meshctl.Ok : Meshctl.Failed;
        });

        var authz = new Command("authz", "Authorization: ask meshd what a service's policy decides.") { check };
        root.Add(authz);
    }
}
