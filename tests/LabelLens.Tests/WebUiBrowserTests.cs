using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace LabelLens.Tests;

/// <summary>
/// Debian's chromium driven by Playwright. The browser must be installed (.ci/run installs it): a missing
/// browser fails the test, it is never skipped and never downloaded. Screenshots of a failing test go to
/// bin/{Configuration}/net10.0/artifacts/screenshots/ beside the test assembly.
/// </summary>
public sealed class Browser : IAsyncDisposable
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private static readonly string[] Args =
        ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

    private Browser(IPlaywright playwright, IBrowser chromium)
    {
        Playwright = playwright;
        Chromium = chromium;
    }

    public static string ScreenshotFolder { get; } = Path.Combine(AppContext.BaseDirectory, "artifacts", "screenshots");

    public IPlaywright Playwright { get; }

    public IBrowser Chromium { get; }

    public static async Task<Browser> LaunchAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            var where = Environment.GetEnvironmentVariable("CI") == "true" ? "CI must install it (.ci/run does)" : "install it: sudo apt-get install chromium";
            Assert.Fail($"The web UI tests need Debian's chromium at {ChromiumPath}; {where}.");
        }

        // Belt and braces: this Playwright only ever uses the system browser.
        Environment.SetEnvironmentVariable("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
        var playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        var chromium = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = ChromiumPath, Args = Args, Headless = true });
        return new Browser(playwright, chromium);
    }

    /// <summary>Runs <paramref name="test"/> on a new page; on failure saves a screenshot (and the page's console) before rethrowing.</summary>
    public async Task RunAsync(string name, BrowserNewContextOptions options, Func<IPage, Task> test)
    {
        await using var context = await Chromium.NewContextAsync(options);
        context.SetDefaultTimeout(30_000);
        var page = await context.NewPageAsync();
        var console = new List<string>();
        page.Console += (_, message) => console.Add($"{message.Type}: {message.Text}");
        page.PageError += (_, error) => console.Add($"pageerror: {error}");
        try
        {
            await test(page);
            // Script errors fail the test even when the page looked right.
            Assert.DoesNotContain(console, line => line.StartsWith("pageerror", StringComparison.Ordinal));
        }
        catch
        {
            Directory.CreateDirectory(ScreenshotFolder);
            var file = Path.Combine(ScreenshotFolder, $"{name}-{DateTime.UtcNow:yyyyMMdd-HHmmss}");
            await File.WriteAllLinesAsync(file + ".console.txt", console.Prepend(page.Url));
            try
            {
                await page.ScreenshotAsync(new PageScreenshotOptions { Path = file + ".png", FullPage = true, Timeout = 10_000 });
            }
            catch (PlaywrightException)
            {
                // The page is gone or hung: the test's own failure is what matters.
            }

            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Chromium.DisposeAsync();
        Playwright.Dispose();
    }
}

/// <summary>A real `serve` and Debian's chromium for one test class: started before each test, stopped after.</summary>
public abstract class BrowserServerTests(ServerFixture server) : IAsyncLifetime
{
    protected ServerFixture Server { get; } = server;

    protected Browser Chromium { get; private set; } = null!;

    protected string Base => Server.Client.BaseAddress!.ToString();

    public async Task InitializeAsync()
    {
        await Server.InitializeAsync();
        Chromium = await Browser.LaunchAsync();
    }

    public async Task DisposeAsync()
    {
        await Chromium.DisposeAsync();
        await Server.DisposeAsync();
    }
}

/// <summary>The web UI in a real browser against a real `serve` (the real model): upload, live labels, search, detail, filter, delete.</summary>
public sealed class WebUiBrowserTests() : BrowserServerTests(new ServerFixture())
{

    [Fact]
    public async Task Upload_watch_labels_arrive_search_open_filter_and_delete() =>
        await Chromium.RunAsync(nameof(Upload_watch_labels_arrive_search_open_filter_and_delete), new() { ViewportSize = new() { Width = 1280, Height = 860 } }, async page =>
        {
            await page.GotoAsync(Base);
            await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Your library is empty" })).ToBeVisibleAsync();
            // Set once; still there at the end proves nothing reloaded the page.
            await page.EvaluateAsync("() => { window.__sameDocument = true; }");

            // Upload two photos through the page's file input, into a new bucket.
            await page.Locator("#upload-button").ClickAsync();
            await page.Locator("#upload-bucket").FillAsync("webui");
            await page.Locator("#file-input").SetInputFilesAsync([TestData.Image("dog.jpg"), TestData.Image("eagle.jpg")]);
            await Assertions.Expect(page.Locator(".upload-item[data-state=done]")).ToHaveCountAsync(2);
            await Assertions.Expect(page.Locator("#upload-summary")).ToHaveTextAsync("2 uploaded");

            // Tiles appear and turn labeled as the events arrive, without a reload.
            await Assertions.Expect(page.Locator(".tile")).ToHaveCountAsync(2);
            await Assertions.Expect(page.Locator(".tile[data-status=labeled]")).ToHaveCountAsync(2, new() { Timeout = 60_000 });
            await Assertions.Expect(page.GetByAltText(new Regex("^dog\\.jpg: Dog"))).ToBeVisibleAsync();
            await Assertions.Expect(page.GetByAltText(new Regex("^eagle\\.jpg: Bird"))).ToBeVisibleAsync();
            await page.Locator("#upload .panel-close").ClickAsync();

            // Search for Dog with the autocomplete: exactly the dog photo.
            await page.Locator("#search-input").FillAsync("Do");
            await page.GetByRole(AriaRole.Option, new() { Name = "Dog" }).First.WaitForAsync();
            await page.Locator("#search-input").PressAsync("ArrowDown");
            await page.Locator("#search-input").PressAsync("Enter");
            await Assertions.Expect(page).ToHaveURLAsync(new Regex("[?&]label=Dog"));
            await Assertions.Expect(page.Locator(".tile")).ToHaveCountAsync(1);
            await Assertions.Expect(page.Locator(".tile img")).ToHaveAttributeAsync("alt", new Regex("^dog\\.jpg: Dog"));

            // Open it: the picture with its boxes, and a label toggle that hides them.
            await page.Locator(".tile-link").First.ClickAsync();
            var detail = page.Locator("#detail");
            await Assertions.Expect(detail).ToBeVisibleAsync();
            await Assertions.Expect(page).ToHaveURLAsync(new Regex("[?&]image=[0-9a-f]{32}"));
            await Assertions.Expect(detail.Locator("#detail-title")).ToHaveTextAsync("dog.jpg");
            var dogBoxes = detail.Locator(".box[aria-label^='Dog']");
            await Assertions.Expect(dogBoxes).ToHaveCountAsync(1);
            await Assertions.Expect(dogBoxes.First).ToHaveAttributeAsync("aria-label", new Regex("^Dog, \\d+% confidence$"));
            await detail.GetByRole(AriaRole.Checkbox, new() { Name = "Show boxes for Dog" }).UncheckAsync();
            await Assertions.Expect(dogBoxes).ToHaveCountAsync(0);
            await Assertions.Expect(detail.Locator(".label-row").First).ToContainTextAsync("%");
            await page.Keyboard.PressAsync("Escape");
            await Assertions.Expect(detail).ToBeHiddenAsync();
            await Assertions.Expect(page).Not.ToHaveURLAsync(new Regex("image="));

            // Back and forward move between searches (closing the detail view went back already).
            await page.GoBackAsync();
            await Assertions.Expect(page).Not.ToHaveURLAsync(new Regex("label="));
            await Assertions.Expect(page.Locator(".tile")).ToHaveCountAsync(2);
            await page.GoForwardAsync();
            await Assertions.Expect(page).ToHaveURLAsync(new Regex("[?&]label=Dog"));
            await Assertions.Expect(page.Locator(".tile")).ToHaveCountAsync(1);

            // Confidence: the dog is labeled in the 80s, so 95% finds nothing and says so; 50% finds it again.
            await page.Locator("#confidence").FillAsync("95");
            await Assertions.Expect(page).ToHaveURLAsync(new Regex("minConfidence=95"));
            await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Nothing matches this search" })).ToBeVisibleAsync();
            await Assertions.Expect(page.Locator(".tile")).ToHaveCountAsync(0);
            await page.Locator("#confidence").FillAsync("50");
            await Assertions.Expect(page.Locator(".tile")).ToHaveCountAsync(1);

            // Delete it from the detail view: gone from the page and from the catalog.
            var id = await page.Locator(".tile").First.GetAttributeAsync("data-id");
            await page.Locator(".tile-link").First.ClickAsync();
            await detail.GetByRole(AriaRole.Button, new() { Name = "Delete", Exact = true }).ClickAsync();
            await detail.GetByRole(AriaRole.Button, new() { Name = "Delete permanently", Exact = true }).ClickAsync();
            await Assertions.Expect(detail).ToBeHiddenAsync();
            await Assertions.Expect(page.Locator(".tile")).ToHaveCountAsync(0);
            using (var gone = await Server.Client.GetAsync($"/api/v1/images/{id}"))
            {
                Assert.Equal(System.Net.HttpStatusCode.NotFound, gone.StatusCode);
            }

            Assert.True(await page.EvaluateAsync<bool>("() => window.__sameDocument === true"), "the page was reloaded");
            await page.GotoAsync(Base);
            await Assertions.Expect(page.Locator(".tile")).ToHaveCountAsync(1);
        });

    [Fact]
    public async Task Keyboard_only_dark_and_phone_width()
    {
        var id = (await Server.UploadAsync("phone", "dog.jpg", TestData.ImageBytes("dog.jpg"))).GetProperty("imageId").GetString()!;
        await Server.WaitForImageAsync(id);
        await Chromium.RunAsync(nameof(Keyboard_only_dark_and_phone_width), new() { ViewportSize = new() { Width = 360, Height = 740 }, ColorScheme = ColorScheme.Dark, HasTouch = true }, async page =>
        {
            await page.GotoAsync(Base);
            await Assertions.Expect(page.Locator(".tile[data-status=labeled]")).ToHaveCountAsync(1);
            // Nothing is wider than the phone.
            Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= 360"), "the page scrolls sideways at 360 px");
            Assert.Equal("dark", await page.EvaluateAsync<string>("() => getComputedStyle(document.documentElement).colorScheme"));

            // "/" focuses the search; type, Enter; Tab to the tile; Enter opens; Escape closes and gives focus back.
            await page.Keyboard.PressAsync("/");
            await page.Keyboard.TypeAsync("Dog");
            await page.Keyboard.PressAsync("Enter");
            await Assertions.Expect(page).ToHaveURLAsync(new Regex("label=Dog"));
            await page.Locator(".tile-link").First.FocusAsync();
            await page.Keyboard.PressAsync("Enter");
            await Assertions.Expect(page.Locator("#detail")).ToBeVisibleAsync();

            // A label added by hand shows at once, and can be removed again.
            await page.Locator("#add-label-input").FillAsync("Film Prop");
            await page.Locator("#add-label-input").PressAsync("Enter");
            var manual = page.Locator(".label-row", new() { HasText = "Film Prop" });
            await Assertions.Expect(manual).ToContainTextAsync("added by hand");
            await page.GetByRole(AriaRole.Button, new() { Name = "Remove label Film Prop" }).ClickAsync();
            await Assertions.Expect(manual).ToHaveCountAsync(0);
            await page.Locator("#detail-close").FocusAsync();

            await page.Keyboard.PressAsync("Escape");
            await Assertions.Expect(page.Locator("#detail")).ToBeHiddenAsync();
            await Assertions.Expect(page.Locator(".tile-link").First).ToBeFocusedAsync();

            // The theme toggle switches to light and remembers it.
            await page.Locator("#theme-toggle").ClickAsync();
            Assert.Equal("light", await page.EvaluateAsync<string>("() => document.documentElement.dataset.theme"));
            await page.ReloadAsync();
            Assert.Equal("light", await page.EvaluateAsync<string>("() => document.documentElement.dataset.theme"));

            // A colour filter: the search works whether or not this server knows colours yet (it says so when not).
            await page.GotoAsync(Base + "?color=red");
            await Assertions.Expect(page.Locator("#result-count")).Not.ToHaveTextAsync("Searching…");
            await Assertions.Expect(page.Locator(".notice-error")).ToHaveCountAsync(0);
            await Assertions.Expect(page.Locator(".swatch[data-color=red]")).ToHaveAttributeAsync("aria-pressed", "true");
            await Assertions.Expect(page.Locator(".tile, #empty:not([hidden])")).Not.ToHaveCountAsync(0);
        });
    }

    [Fact]
    public async Task A_broken_file_says_why_on_its_tile_a_retry_that_fails_again_says_so_and_toasts_show_over_the_detail_view()
    {
        var dog = (await Server.UploadAsync("reel", "dog.jpg", TestData.ImageBytes("dog.jpg"))).GetProperty("imageId").GetString()!;
        var broken = (await Server.UploadAsync("reel", "broken.jpg", "not a picture at all"u8.ToArray())).GetProperty("imageId").GetString()!;
        await Server.WaitForImageAsync(dog);
        await Server.WaitForImageAsync(broken);
        await Chromium.RunAsync(nameof(A_broken_file_says_why_on_its_tile_a_retry_that_fails_again_says_so_and_toasts_show_over_the_detail_view), new() { ViewportSize = new() { Width = 1280, Height = 860 }, ColorScheme = ColorScheme.Dark }, async page =>
        {
            await page.GotoAsync(Base);
            await Assertions.Expect(page.Locator(".tile")).ToHaveCountAsync(2);

            // The broken file: a placeholder in the page's colours (not the server's light image) and the reason.
            var brokenTile = page.Locator($".tile[data-id='{broken}']");
            await Assertions.Expect(brokenTile.Locator(".tile-placeholder")).ToBeVisibleAsync();
            await Assertions.Expect(brokenTile.Locator("img")).ToHaveCountAsync(0);
            await Assertions.Expect(brokenTile.Locator(".tag-error")).ToHaveTextAsync("Not an image");

            // A tile names what was found, not the parents it implies: Dog, not Animal or Mammal.
            var dogTags = page.Locator($".tile[data-id='{dog}'] .tag");
            await Assertions.Expect(dogTags.First).ToContainTextAsync("Dog");
            Assert.DoesNotContain(await dogTags.AllInnerTextsAsync(), t => t.StartsWith("Animal", StringComparison.Ordinal) || t.StartsWith("Mammal", StringComparison.Ordinal));

            // Part of a label and Enter takes the label suggested for it.
            await page.Locator("#search-input").FillAsync("do");
            await page.GetByRole(AriaRole.Option, new() { Name = "Dog" }).First.WaitForAsync();
            await page.Locator("#search-input").PressAsync("Enter");
            await Assertions.Expect(page).ToHaveURLAsync(new Regex("[?&]label=Dog(&|$)"));
            await Assertions.Expect(page.Locator(".tile")).ToHaveCountAsync(1);

            // The colour swatches are one tab stop; arrow keys move along them.
            await Assertions.Expect(page.Locator(".swatch[tabindex='0']")).ToHaveCountAsync(1);
            await page.Locator(".swatch[tabindex='0']").FocusAsync();
            await page.Keyboard.PressAsync("ArrowRight");
            await Assertions.Expect(page.Locator(".swatch").Nth(1)).ToBeFocusedAsync();
            await Assertions.Expect(page.Locator(".swatch[tabindex='0']")).ToHaveCountAsync(1);

            // Retry in the queue panel: the file is still broken, and the page says it failed again.
            await page.GotoAsync(Base);
            await page.Locator("#queue-button").ClickAsync();
            await page.GetByRole(AriaRole.Button, new() { Name = "Retry broken.jpg" }).ClickAsync();
            await Assertions.Expect(page.Locator(".toast-error", new() { HasText = "broken.jpg failed again: Not an image" })).ToBeVisibleAsync(new() { Timeout = 30_000 });
            await page.Locator("#queue .panel-close").ClickAsync();

            // A toast from the detail view is above the modal dialog, not hidden under it (toasts let clicks
            // through, so the check makes this one hit-testable first).
            await page.Locator($".tile[data-id='{dog}'] .tile-link").ClickAsync();
            await page.Locator("#detail").GetByRole(AriaRole.Button, new() { Name = "Relabel" }).ClickAsync();
            var toast = page.Locator(".toast", new() { HasText = "relabel" });
            await Assertions.Expect(toast).ToBeVisibleAsync();
            Assert.True(await toast.EvaluateAsync<bool>(@"t => { t.style.pointerEvents = 'auto'; const r = t.getBoundingClientRect(); return t.contains(document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2)); }"), "the toast is covered by the detail view");
        });
    }

    [Fact]
    public async Task A_video_uploaded_in_the_page_gets_a_timeline_whose_segments_seek_the_player()
    {
        // 9 s: dog.jpg for 3 s, eagle.jpg (Bird) for 3 s, giraffe.jpg for 3 s (made with ffmpeg now).
        await VideoTestData.ThreeShotsMp4();
        var clip = VideoTestData.PathOf("shots.mp4");
        await Chromium.RunAsync(nameof(A_video_uploaded_in_the_page_gets_a_timeline_whose_segments_seek_the_player), new() { ViewportSize = new() { Width = 1280, Height = 860 } }, async page =>
        {
            await page.GotoAsync(Base);
            await page.EvaluateAsync("() => { window.__sameDocument = true; }");
            await page.Locator("#upload-button").ClickAsync();
            await page.Locator("#upload-bucket").FillAsync("films");
            await page.Locator("#file-input").SetInputFilesAsync(clip);
            await Assertions.Expect(page.Locator("#upload-summary")).ToHaveTextAsync("1 uploaded");
            await page.Locator("#upload .panel-close").ClickAsync();

            // The tile is a video (play mark, duration) and turns labeled without a reload.
            var tile = page.Locator(".tile[data-media=video]");
            await Assertions.Expect(tile).ToHaveCountAsync(1);
            await Assertions.Expect(page.Locator(".tile[data-status=labeled]")).ToHaveCountAsync(1, new() { Timeout = 120_000 });
            await Assertions.Expect(tile.Locator(".tile-duration")).ToHaveTextAsync("0:09");
            await Assertions.Expect(tile.Locator("img.loaded")).ToHaveCountAsync(1);
            Assert.True(await page.EvaluateAsync<bool>("() => window.__sameDocument === true"), "the page was reloaded");

            // Open it: a player, and a timeline with a Dog segment at the start and a Bird segment at 3 s.
            await tile.Locator(".tile-link").ClickAsync();
            var detail = page.Locator("#detail");
            await Assertions.Expect(detail.Locator("#detail-title")).ToHaveTextAsync("shots.mp4");
            var video = detail.Locator("video#detail-video");
            await Assertions.Expect(video).ToBeVisibleAsync();
            var timeline = detail.Locator("#detail-timeline");
            await Assertions.Expect(timeline).ToBeVisibleAsync();
            var dog = timeline.GetByRole(AriaRole.Button, new() { NameRegex = new Regex("^Dog 0:00–0:0[2-4], \\d+%$") });
            var bird = timeline.GetByRole(AriaRole.Button, new() { NameRegex = new Regex("^Bird 0:0[2-4]–0:0[5-7], \\d+%$") });
            await Assertions.Expect(dog).ToHaveCountAsync(1);
            await Assertions.Expect(bird).ToHaveCountAsync(1);
            await Assertions.Expect(detail.Locator(".meta")).ToContainTextAsync("h264");
            await Assertions.Expect(detail.Locator(".meta")).ToContainTextAsync("640 × 480");

            // The player can seek (the download serves ranges); a click on Bird jumps to its start (≈ 3 s) and plays.
            await page.WaitForFunctionAsync("() => document.getElementById('detail-video').readyState >= 1");
            await bird.ClickAsync();
            await page.WaitForFunctionAsync("() => { const v = document.getElementById('detail-video'); return !v.seeking && v.readyState >= 2; }");
            var time = await page.EvaluateAsync<double>("() => document.getElementById('detail-video').currentTime");
            Assert.InRange(time, 2.4, 3.6);
            // The playhead follows the player.
            var playhead = await page.EvaluateAsync<double>("() => Number(getComputedStyle(document.querySelector('.tl-body')).getPropertyValue('--p'))");
            Assert.InRange(playhead, 0.25, 0.45);
            await Assertions.Expect(bird).ToHaveClassAsync(new Regex("\\bactive\\b"));

            // The Shots row: ffmpeg's three shots, cut at 3 s and 6 s (frames 75 and 150 at 25 fps), each seeking to its start.
            var shots = timeline.Locator(".tl-shots .tl-seg");
            await Assertions.Expect(shots).ToHaveCountAsync(3);
            await Assertions.Expect(shots.Nth(0)).ToHaveAttributeAsync("aria-label", "Shot 1 0:00–0:03 (00:00:00:00–00:00:03:00)");
            await Assertions.Expect(shots.Nth(1)).ToHaveAttributeAsync("aria-label", "Shot 2 0:03–0:06 (00:00:03:00–00:00:06:00)");
            await Assertions.Expect(shots.Nth(2)).ToHaveAttributeAsync("aria-label", "Shot 3 0:06–0:09 (00:00:06:00–00:00:09:00)");
            await shots.Nth(2).ClickAsync();
            await page.WaitForFunctionAsync("() => { const v = document.getElementById('detail-video'); return !v.seeking && v.readyState >= 2; }");
            Assert.InRange(await page.EvaluateAsync<double>("() => document.getElementById('detail-video').currentTime"), 5.9, 6.6);
        });
    }

    [Fact]
    public async Task Faces_show_on_tiles_filter_by_count_and_shot_size_and_their_boxes_toggle()
    {
        var folder = Directory.CreateTempSubdirectory("labellens-webui-faces-").FullName;
        var closeUp = Path.Combine(folder, "close-up.png");
        await File.WriteAllBytesAsync(closeUp, FacePictures.AstronautCloseUp());
        await Chromium.RunAsync(nameof(Faces_show_on_tiles_filter_by_count_and_shot_size_and_their_boxes_toggle), new() { ViewportSize = new() { Width = 1280, Height = 860 } }, async page =>
        {
            await page.GotoAsync(Base);
            await page.Locator("#upload-button").ClickAsync();
            await page.Locator("#upload-bucket").FillAsync("people");
            await page.Locator("#file-input").SetInputFilesAsync([TestData.Image("extra/astronaut.png"), closeUp, TestData.Image("dog.jpg")]);
            await Assertions.Expect(page.Locator("#upload-summary")).ToHaveTextAsync("3 uploaded");
            await page.Locator("#upload .panel-close").ClickAsync();
            await Assertions.Expect(page.Locator(".tile[data-status=labeled]")).ToHaveCountAsync(3, new() { Timeout = 60_000 });

            // Tiles say how many faces and the shot size (from the largest face); the dog's says nothing.
            Task ExpectFaces(string key, string text) => Assertions.Expect(page.Locator(".tile", new() { Has = page.GetByTitle($"people/{key}") }).Locator(".tile-faces")).ToHaveTextAsync(text);
            await ExpectFaces("astronaut.png", "1 face · medium");
            await ExpectFaces("close-up.png", "1 face · close-up");
            await Assertions.Expect(page.Locator(".tile", new() { Has = page.GetByTitle("people/dog.jpg") }).Locator(".tile-faces")).ToHaveCountAsync(0);

            // Filters: shot size close-up finds the close-up only; "No face" the dog; back to any.
            await page.Locator("#shot").SelectOptionAsync("close-up");
            await Assertions.Expect(page).ToHaveURLAsync(new Regex("[?&]shot=close-up"));
            await Assertions.Expect(page.Locator(".tile")).ToHaveCountAsync(1);
            await Assertions.Expect(page.Locator(".tile-name")).ToHaveTextAsync("close-up.png");
            await page.Locator("#shot").SelectOptionAsync("");
            await page.Locator("#faces").SelectOptionAsync("0");
            await Assertions.Expect(page).ToHaveURLAsync(new Regex("[?&]faces=0"));
            await Assertions.Expect(page.Locator(".tile")).ToHaveCountAsync(1);
            await Assertions.Expect(page.Locator(".tile-name")).ToHaveTextAsync("dog.jpg");
            await page.Locator("#faces").SelectOptionAsync("1");
            await Assertions.Expect(page.Locator(".tile")).ToHaveCountAsync(2);
            await page.Locator("#faces").SelectOptionAsync("-1");
            await Assertions.Expect(page).ToHaveURLAsync(new Regex("[?&]maxFaces=1"));
            await Assertions.Expect(page.Locator(".tile")).ToHaveCountAsync(3);
            // A shared URL with a count the menu does not list shows it as chosen.
            await page.GotoAsync(Base + "?minFaces=1&shot=medium");
            await Assertions.Expect(page.Locator("#faces")).ToHaveValueAsync("1+");
            await Assertions.Expect(page.Locator("#faces option:checked")).ToHaveTextAsync("1 or more");
            await Assertions.Expect(page.Locator(".tile")).ToHaveCountAsync(1);

            // The astronaut's details: one face, medium shot, its box on the picture; the toggle hides and shows it.
            await page.Locator(".tile", new() { Has = page.GetByTitle("people/astronaut.png") }).Locator(".tile-link").ClickAsync();
            var detail = page.Locator("#detail");
            await Assertions.Expect(detail.Locator(".faces-summary")).ToHaveTextAsync("1 face · medium shot");
            var faceBoxes = detail.Locator(".box[aria-label^='Face']");
            await Assertions.Expect(faceBoxes).ToHaveCountAsync(1);
            var toggle = detail.GetByRole(AriaRole.Button, new() { Name = "Show or hide the face boxes (f)" });
            await Assertions.Expect(toggle).ToHaveAttributeAsync("aria-pressed", "true");
            await toggle.ClickAsync();
            await Assertions.Expect(faceBoxes).ToHaveCountAsync(0);
            await Assertions.Expect(toggle).ToHaveAttributeAsync("aria-pressed", "false");
            await page.Keyboard.PressAsync("f");
            await Assertions.Expect(faceBoxes).ToHaveCountAsync(1);
        });
        Directory.Delete(folder, recursive: true);
    }

    [Fact]
    public async Task The_queue_panel_shows_a_long_videos_progress_and_cancels_it()
    {
        // 10 minutes of one photo: long enough to be caught mid-way.
        var id = (await Server.UploadAsync("films", "long-dog.mp4", await VideoTestData.Still("dog.jpg", 600), "video/mp4")).GetProperty("imageId").GetString()!;
        await Chromium.RunAsync(nameof(The_queue_panel_shows_a_long_videos_progress_and_cancels_it), new() { ViewportSize = new() { Width = 1280, Height = 860 } }, async page =>
        {
            await page.GotoAsync(Base);
            await page.Locator("#queue-button").ClickAsync();
            var row = page.Locator($"#queue-videos li[data-id=\"{id}\"]");
            await Assertions.Expect(row).ToHaveAttributeAsync("data-state", "running", new() { Timeout = 60_000 });
            // The panel refreshes by itself: the percent and the frame count move without a click.
            var bar = row.GetByRole(AriaRole.Progressbar);
            await page.WaitForFunctionAsync(
                "id => Number(document.querySelector(`#queue-videos li[data-id=\"${id}\"] [role=progressbar]`)?.getAttribute('aria-valuenow') ?? -1) >= 1", id);
            await Assertions.Expect(row).ToContainTextAsync(new Regex("\\d+ frames"));
            Assert.InRange(int.Parse(await bar.GetAttributeAsync("aria-valuenow") ?? "-1", System.Globalization.CultureInfo.InvariantCulture), 1, 99);

            await row.GetByRole(AriaRole.Button, new() { Name = "Cancel labeling long-dog.mp4" }).ClickAsync();
            await Assertions.Expect(row).ToHaveCountAsync(0, new() { Timeout = 30_000 });
            await Assertions.Expect(page.Locator("#queue-videos-section")).ToBeHiddenAsync();
            // It is listed as failed ("cancelled"), with a retry, as any failed item.
            await Assertions.Expect(page.Locator("#queue-failed")).ToContainTextAsync("cancelled", new() { Timeout = 30_000 });
        });

        var image = await Server.GetJsonAsync($"/api/v1/images/{id}");
        Assert.Equal(("failed", "cancelled"), (image.GetProperty("image").GetProperty("status").GetString(), image.GetProperty("image").GetProperty("error").GetString()));
    }

    [Fact]
    public async Task With_api_keys_the_page_asks_for_one_and_images_still_load()
    {
        var keyed = new ServerFixture(new() { ["Server:ApiKeys:0"] = "ui-key" });
        await keyed.InitializeAsync();
        try
        {
            using var upload = new HttpRequestMessage(HttpMethod.Put, "/api/v1/buckets/keyed/objects/eagle.jpg") { Content = new ByteArrayContent(TestData.ImageBytes("eagle.jpg")) };
            upload.Headers.Add("X-Api-Key", "ui-key");
            (await keyed.Client.SendAsync(upload)).EnsureSuccessStatusCode();
            await RunKeyedAsync(keyed);
        }
        finally
        {
            await keyed.DisposeAsync();
        }
    }

    private Task RunKeyedAsync(ServerFixture keyed) =>
        Chromium.RunAsync(nameof(With_api_keys_the_page_asks_for_one_and_images_still_load), new() { ViewportSize = new() { Width = 1024, Height = 768 } }, async page =>
        {
            await page.GotoAsync(keyed.Client.BaseAddress!.ToString());
            var dialog = page.Locator("#key-dialog");
            await Assertions.Expect(dialog).ToBeVisibleAsync();
            await page.Locator("#key-input").FillAsync("ui-key");
            await page.Locator("#key-input").PressAsync("Enter");
            await Assertions.Expect(page.Locator(".tile")).ToHaveCountAsync(1);
            // The thumbnail really loaded (an <img> cannot send the header: it uses ?apiKey=).
            await Assertions.Expect(page.Locator(".tile img.loaded")).ToHaveCountAsync(1);
            Assert.Equal("ui-key", await page.EvaluateAsync<string>("() => sessionStorage.getItem('labellens.apiKey')"));
        });
}
