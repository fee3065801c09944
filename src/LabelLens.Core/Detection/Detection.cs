namespace LabelLens.Detection;

/// <summary>One detected object in oriented-image pixel coordinates (x1,y1 top-left; x2,y2 bottom-right).</summary>
public readonly record struct Detection(int ClassIndex, float Score, float X1, float Y1, float X2, float Y2);
