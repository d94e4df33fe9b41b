namespace Rank1.Elastic.Tests;

public sealed class ApiParametersTests
{
    public static TheoryData<string, bool> EveryApiAndFlavor()
    {
        var data = new TheoryData<string, bool>();
        foreach (var api in Enum.GetNames<ParameterApi>())
        {
            data.Add(api, false);
            data.Add(api, true);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(EveryApiAndFlavor))]
    public void EveryApi_HasItsHandlersParameters_InEachFlavor(string name, bool openSearch)
    {
        var api = Enum.Parse<ParameterApi>(name);
        // An API missing from a flavour's table is a mistake (KeyNotFoundException), not a check quietly skipped; with
        // OpenSearch none is left unchecked. A parameter every handler takes is accepted by each.
        ApiParameters.ThrowIfUnknown(api, "/p", ["pretty", "filter_path"], openSearch);
        var e = Record.Exception(() => ApiParameters.ThrowIfUnknown(api, "/p", ["no_such_parameter"], openSearch));
        Assert.Equal("request [/p] contains unrecognized parameter: [no_such_parameter]", Assert.IsType<EsException>(e).Message);
    }
}
