using System.Reflection;
using System.Text;

namespace Depot.Client.Tests.Api;

/// <summary>
/// The SDK's public surface is tracked in <c>src/Depot.Client/PublicAPI.txt</c> (the role PublicApiAnalyzers'
/// <c>PublicAPI.Shipped.txt</c> plays elsewhere; that package is not available here). Any change to the surface fails
/// this test until the file is updated in the same commit, so a change is always a visible, reviewed decision:
/// add overloads, mark with <see cref="ObsoleteAttribute"/> before removing.
/// </summary>
public sealed class PublicApiTests
{
    [Fact]
    public void PublicApi_Surface_MatchesTrackedFile()
    {
        var tracked = Path.Combine(RepositoryRoot(), "src", "Depot.Client", "PublicAPI.txt");
        var actual = Describe(typeof(DepotClient).Assembly);
        var expected = File.Exists(tracked) ? File.ReadAllLines(tracked).Where(l => l.Length > 0).ToList() : [];

        if (!actual.SequenceEqual(expected, StringComparer.Ordinal))
        {
            var received = Path.ChangeExtension(tracked, ".received.txt");
            File.WriteAllLines(received, actual);
            var added = actual.Except(expected, StringComparer.Ordinal).Take(20);
            var removed = expected.Except(actual, StringComparer.Ordinal).Take(20);
            Assert.Fail($"The public API changed; review {received} and copy it over {tracked}.\nAdded:\n  {string.Join("\n  ", added)}\nRemoved:\n  {string.Join("\n  ", removed)}");
        }
    }

    [Fact]
    public void PublicApi_EveryPublicMember_HasXmlDocumentation()
    {
        var assembly = typeof(DepotClient).Assembly;
        var xml = Path.ChangeExtension(assembly.Location, ".xml");
        var documented = System.Xml.Linq.XDocument.Load(xml).Descendants("member")
            .Select(m => (string)m.Attribute("name")!).ToHashSet(StringComparer.Ordinal);
        var missing = new List<string>();
        foreach (var type in assembly.GetExportedTypes())
        {
            if (!documented.Contains("T:" + type.FullName!.Replace('+', '.')))
            {
                missing.Add(type.FullName!);
            }
        }

        Assert.True(missing.Count == 0, "Public types without XML docs: " + string.Join(", ", missing));
    }

    private static List<string> Describe(Assembly assembly)
    {
        var lines = new List<string>();
        const BindingFlags Flags = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        foreach (var type in assembly.GetExportedTypes())
        {
            var name = Name(type);
            lines.Add($"{Kind(type)} {name}" + (type.BaseType is { } b && b != typeof(object) && b != typeof(ValueType) && b != typeof(Enum) ? " : " + Name(b) : ""));
            foreach (var member in type.GetMembers(Flags))
            {
                if (Describe(member) is { } text)
                {
                    lines.Add($"{name}.{text}");
                }
            }
        }

        lines.Sort(StringComparer.Ordinal);
        return lines.Distinct().ToList();
    }

    private static string? Describe(MemberInfo member) => member switch
    {
        ConstructorInfo c when Visible(c) => $".ctor({Parameters(c)})",
        MethodInfo m when Visible(m) && !m.IsSpecialName => $"{(m.IsStatic ? "static " : "")}{m.Name}{Generic(m)}({Parameters(m)}) -> {Name(m.ReturnType)}",
        PropertyInfo p when (p.GetMethod is { } g && Visible(g)) || (p.SetMethod is { } s && Visible(s)) =>
            $"{p.Name} : {Name(p.PropertyType)} {{{(p.GetMethod is { } g2 && Visible(g2) ? " get;" : "")}{(p.SetMethod is { } s2 && Visible(s2) ? (IsInit(s2) ? " init;" : " set;") : "")} }}",
        FieldInfo f when f.IsPublic || f.IsFamily => $"{(f.IsLiteral ? "const " : f.IsStatic ? "static " : "")}{f.Name} : {Name(f.FieldType)}",
        EventInfo e when e.AddMethod is { } a && Visible(a) => $"event {e.Name} : {Name(e.EventHandlerType!)}",
        _ => null,
    };

    private static bool Visible(MethodBase m) => m.IsPublic || m.IsFamily || m.IsFamilyOrAssembly;

    private static bool IsInit(MethodInfo setter) =>
        setter.ReturnParameter.GetRequiredCustomModifiers().Any(t => t.FullName == "System.Runtime.CompilerServices.IsExternalInit");

    private static string Generic(MethodInfo m) => m.IsGenericMethodDefinition ? "<" + string.Join(",", m.GetGenericArguments().Select(a => a.Name)) + ">" : "";

    private static string Parameters(MethodBase m) => string.Join(", ", m.GetParameters().Select(p =>
        (p.IsOut ? "out " : p.ParameterType.IsByRef ? "ref " : "") + Name(p.ParameterType) + " " + p.Name + (p.HasDefaultValue ? " = " + (p.DefaultValue ?? "null") : "")));

    private static string Kind(Type t) => t.IsEnum ? "enum" : t.IsInterface ? "interface" : t.IsValueType ? "struct" :
        t.IsAbstract && t.IsSealed ? "static class" : t.IsSealed ? "sealed class" : t.IsAbstract ? "abstract class" : "class";

    private static string Name(Type t)
    {
        if (t.IsByRef)
        {
            return Name(t.GetElementType()!);
        }

        if (t.IsArray)
        {
            return Name(t.GetElementType()!) + "[]";
        }

        if (Nullable.GetUnderlyingType(t) is { } inner)
        {
            return Name(inner) + "?";
        }

        if (!t.IsGenericType)
        {
            return t.IsGenericParameter ? t.Name : (t.FullName ?? t.Name).Replace('+', '.');
        }

        var definition = (t.GetGenericTypeDefinition().FullName ?? t.Name).Replace('+', '.');
        var tick = definition.IndexOf('`', StringComparison.Ordinal);
        var builder = new StringBuilder(tick < 0 ? definition : definition[..tick]);
        builder.Append('<').Append(string.Join(",", t.GetGenericArguments().Select(Name))).Append('>');
        return builder.ToString();
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Depot.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("The repository root (Depot.slnx) is not above " + AppContext.BaseDirectory);
    }
}
