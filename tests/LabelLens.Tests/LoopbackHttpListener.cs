using System.Net;

namespace LabelLens.Tests;

/// <summary>Starts an <see cref="HttpListener"/> on a free loopback port.</summary>
public static class LoopbackHttpListener
{
    /// <summary>
    /// A started listener on <c>http://127.0.0.1:PORT/{path}</c>, and that URL. A port found free can be taken before
    /// the listener binds it (by another test's process or an outgoing connection's ephemeral port; a fixed random port
    /// once failed CI with "Address already in use"), so a taken port is given up for the next free one. A listener
    /// whose start failed is closed for good, hence a new one per attempt.
    /// </summary>
    public static (HttpListener Listener, Uri Url) Start(string path = "")
    {
        for (var attempt = 1; ; attempt++)
        {
            var url = new Uri($"http://127.0.0.1:{ServeProcess.FreePort()}/{path}");
            var listener = new HttpListener();
            listener.Prefixes.Add(url.AbsoluteUri);
            try
            {
                listener.Start();
                return (listener, url);
            }
            catch (HttpListenerException) when (attempt < 20)
            {
                listener.Close();
            }
        }
    }
}
